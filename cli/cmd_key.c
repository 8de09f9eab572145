/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `upkeep key`: make Ed25519 key pairs as PEM files (PKCS#8 private key,
 * optionally passphrase-encrypted, mode 0600; SubjectPublicKeyInfo public key)
 * and show a key file's TUF key id, type and scheme.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"

static const struct cli_opt generate_opts[] = {
	{"dir", "DIR", "write the key files into DIR (default: the current directory)", 0},
	{"passphrase-file", "FILE", "encrypt the private key with the first line of FILE", 0},
	{"no-passphrase", NULL, "do not encrypt and do not ask, even on a terminal", 0},
	{"json", NULL, "print the result as JSON", 0},
	{NULL, NULL, NULL, 0},
};

static const struct cli_spec generate_spec = {
	"upkeep key generate NAME [options]",
	"Generate an Ed25519 key pair: NAME.key (PKCS#8 PEM, mode 0600) and NAME.pub\n"
	"(SubjectPublicKeyInfo PEM). Existing files are never overwritten. The private key\n"
	"is encrypted when a passphrase comes from --passphrase-file or $UPKEEP_PASSPHRASE,\n"
	"or is typed at the prompt (only on a terminal). Prints the TUF key id.",
	generate_opts, 1, 1,
};

static upk_status ask_new_passphrase(const struct cli_args *a, char **out, struct upk_error *err)
{
	const char *file = cli_opt(a, "passphrase-file");
	const char *env = getenv("UPKEEP_PASSPHRASE");
	char *again = NULL;
	upk_status ret;

	*out = NULL;
	if (cli_flag(a, "no-passphrase"))
		return UPK_OK;
	ret = cli_passphrase(file, 1, "the new key (empty for none)", out, err);
	if (ret != UPK_OK)
		return ret;
	/* Typed passphrases are asked twice: a typo here would lock the key away for good. */
	if (file == NULL && (env == NULL || env[0] == '\0') && *out != NULL) {
		ret = cli_passphrase(NULL, 1, "the new key (again)", &again, err);
		if (ret == UPK_OK && (again == NULL || strcmp(again, *out) != 0))
			ret = upk_error_set(err, UPK_ERR_PASSPHRASE, "the passphrases do not match");
		cli_passphrase_free(again);
		if (ret != UPK_OK) {
			cli_passphrase_free(*out);
			*out = NULL;
			return ret;
		}
	}
	if (*out != NULL && (*out)[0] == '\0') {
		cli_passphrase_free(*out);
		*out = NULL;
	}
	return UPK_OK;
}

static int key_generate(int argc, char **argv)
{
	struct cli_args a;
	struct upk_error err = {0};
	struct upk_key *key = NULL;
	char *pass = NULL, *priv = NULL, *pub = NULL, *base = NULL;
	char keyid[UPK_KEYID_HEX_LEN + 1];
	const char *dir, *name;
	enum cli_parse_result pr = cli_parse(&generate_spec, argc, argv, &a);
	upk_status ret;

	if (pr != CLI_GO) {
		cli_args_free(&a);
		return cli_parse_exit(pr);
	}
	dir = cli_opt(&a, "dir") ? cli_opt(&a, "dir") : ".";
	name = a.pos[0];
	if (name[0] == '\0' || strchr(name, '/') != NULL || name[0] == '.') {
		ret = upk_error_set(&err, UPK_ERR_INVALID,
				    "key name \"%.64s\" must be a plain file name (use --dir for the "
				    "directory)",
				    name);
		goto out;
	}
	base = cli_join(dir, name);
	if (base == NULL || asprintf(&priv, "%s.key", base) < 0 ||
	    asprintf(&pub, "%s.pub", base) < 0) {
		priv = pub = NULL;
		ret = upk_error_set(&err, UPK_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (cli_exists(priv) || cli_exists(pub)) {
		ret = upk_error_set(&err, UPK_ERR_EXISTS,
				    "%s or %s already exists; refusing to overwrite a key", priv, pub);
		goto out;
	}
	ret = cli_mkdirs(dir, &err);
	if (ret == UPK_OK)
		ret = ask_new_passphrase(&a, &pass, &err);
	if (ret == UPK_OK)
		ret = upk_key_generate_ed25519(&key, &err);
	if (ret == UPK_OK)
		ret = upk_key_id(key, keyid, &err);
	if (ret == UPK_OK)
		ret = upk_keyfile_write_private(priv, key, pass, &err);
	if (ret == UPK_OK) {
		ret = upk_keyfile_write_public(pub, key, &err);
		/* Half a key pair is worse than none: the private key cannot be named by a .pub. */
		if (ret != UPK_OK)
			unlink(priv);
	}
	if (ret != UPK_OK)
		goto out;
	if (cli_flag(&a, "json")) {
		ret = cli_print_json(json_pack("{s:s, s:s, s:s, s:s, s:s, s:b}", "keyid", keyid,
					       "keytype", "ed25519", "scheme", "ed25519",
					       "private_key", priv, "public_key", pub, "encrypted",
					       pass != NULL),
				     &err);
	} else {
		printf("key id:      %s\n", keyid);
		printf("private key: %s (%s)\n", priv, pass ? "encrypted" : "NOT encrypted");
		printf("public key:  %s\n", pub);
	}
out:
	cli_passphrase_free(pass);
	upk_key_free(key);
	free(priv);
	free(pub);
	free(base);
	cli_args_free(&a);
	return ret == UPK_OK ? CLI_EXIT_OK : cli_fail(&err);
}

static const struct cli_opt show_opts[] = {
	{"passphrase-file", "FILE", "passphrase for an encrypted private key file", 0},
	{"json", NULL, "print the key as JSON (with its TUF key object)", 0},
	{NULL, NULL, NULL, 0},
};

static const struct cli_spec show_spec = {
	"upkeep key show FILE [options]",
	"Show the TUF key id, type and scheme of a public or private key file. An encrypted\n"
	"private key needs its passphrase (--passphrase-file, $UPKEEP_PASSPHRASE or the\n"
	"terminal); its .pub file shows the same key id without one.",
	show_opts, 1, 1,
};

static int key_show(int argc, char **argv)
{
	struct cli_args a;
	struct upk_error err = {0};
	struct upk_key *key = NULL;
	json_t *tuf = NULL;
	char keyid[UPK_KEYID_HEX_LEN + 1];
	enum cli_parse_result pr = cli_parse(&show_spec, argc, argv, &a);
	upk_status ret;

	if (pr != CLI_GO) {
		cli_args_free(&a);
		return cli_parse_exit(pr);
	}
	ret = cli_load_key(a.pos[0], cli_opt(&a, "passphrase-file"), 0, &key, &err);
	if (ret == UPK_OK)
		ret = upk_key_id(key, keyid, &err);
	if (ret == UPK_OK)
		ret = upk_key_to_tuf(key, &tuf, &err);
	if (ret != UPK_OK)
		goto out;
	if (cli_flag(&a, "json")) {
		ret = cli_print_json(json_pack("{s:s, s:s, s:s, s:b, s:O}", "keyid", keyid, "keytype",
					       json_string_value(json_object_get(tuf, "keytype")),
					       "scheme", upk_key_scheme(key), "private",
					       upk_key_has_private(key), "tuf", tuf),
				     &err);
	} else {
		printf("key id:  %s\n", keyid);
		printf("type:    %s\n", json_string_value(json_object_get(tuf, "keytype")));
		printf("scheme:  %s\n", upk_key_scheme(key));
		printf("private: %s\n", upk_key_has_private(key) ? "yes" : "no");
		printf("public:  %s\n",
		       json_string_value(json_object_get(json_object_get(tuf, "keyval"), "public")));
	}
out:
	json_decref(tuf);
	upk_key_free(key);
	cli_args_free(&a);
	return ret == UPK_OK ? CLI_EXIT_OK : cli_fail(&err);
}

static const struct cli_command key_commands[] = {
	{"generate", key_generate, "make an Ed25519 key pair (NAME.key, NAME.pub)"},
	{"show", key_show, "show a key file's key id, type and scheme"},
};

int cmd_key(int argc, char **argv)
{
	return cli_dispatch("upkeep key", key_commands,
			    sizeof(key_commands) / sizeof(key_commands[0]), argc, argv);
}
