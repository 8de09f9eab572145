/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared pieces of the `upkeep` owner tool: the command tables that drive
 * dispatch and --help, the option parser, output and error reporting, and
 * the few file helpers (atomic writes, passphrases, key files) every command uses.
 */
#ifndef UPK_CLI_H
#define UPK_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <jansson.h>

#include "upkeep/crypto.h"
#include "upkeep/error.h"

/* ---- commands ---- */

/* A command or a group of subcommands. argv[0] is the command's own name. */
struct cli_command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

/* Exit statuses: 0 success, 1 the operation failed, 2 the command line was wrong. */
#define CLI_EXIT_OK 0
#define CLI_EXIT_FAIL 1
#define CLI_EXIT_USAGE 2

/*
 * Run the subcommand argv[1] of the group `prog` (e.g. "upkeep key") from the
 * table cmds; "--help" (or no subcommand) lists the table.
 */
int cli_dispatch(const char *prog, const struct cli_command *cmds, size_t n_cmds, int argc,
		 char **argv);

/* ---- options ---- */

#define CLI_OPT_REPEAT 1u /* may be given more than once; every value is kept */

struct cli_opt {
	const char *name; /* long name without "--"; NULL ends a table */
	const char *arg;  /* metavariable shown in --help, NULL for a flag */
	const char *help;
	unsigned flags;
};

struct cli_spec {
	const char *usage;       /* "upkeep key generate NAME [options]" */
	const char *description; /* one paragraph, shown by --help */
	const struct cli_opt *opts;
	size_t min_args, max_args; /* positional arguments */
};

#define CLI_MAX_OPTS 24

struct cli_args {
	const struct cli_spec *spec;
	char **pos; /* borrowed from argv */
	size_t n_pos;
	struct {
		char **vals; /* borrowed from argv; array owned */
		size_t n;
	} opt[CLI_MAX_OPTS];
};

enum cli_parse_result {
	CLI_GO = 0,         /* parsed: run the command */
	CLI_HELP_SHOWN = 1, /* --help was printed: exit 0 */
	CLI_BAD_USAGE = 2,  /* one line was printed on stderr: exit 2 */
};

/*
 * Parse argv[1..] against spec: "--name value", "--name=value", flags,
 * "--" to end options, "-h"/"--help" anywhere. Always cli_args_free() out.
 */
enum cli_parse_result cli_parse(const struct cli_spec *spec, int argc, char **argv,
				struct cli_args *out);
void cli_args_free(struct cli_args *a);
/* Exit status for a parse result other than CLI_GO. */
int cli_parse_exit(enum cli_parse_result r);

/* The last value of option name, or NULL when it was not given. */
const char *cli_opt(const struct cli_args *a, const char *name);
/* Every value of a repeatable option, in order; *n gets the count. */
char *const *cli_opt_all(const struct cli_args *a, const char *name, size_t *n);
int cli_flag(const struct cli_args *a, const char *name);

/* ---- output ---- */

/*
 * Print "upkeep: <message>" as ONE line on stderr (newlines in the message
 * become spaces) and return CLI_EXIT_FAIL.
 */
int cli_fail(const struct upk_error *err);
/* A warning line on stderr that does not change the exit status. */
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print value as indented JSON on stdout; steals the reference. */
upk_status cli_print_json(json_t *value, struct upk_error *err);
/* The first 16 hex digits of a key id, for people. */
void cli_short_keyid(const char *keyid, char out[17]);

/* ---- time ---- */

/*
 * An expiry: "90d", "12h", "30m", "45s", "2w", "1y" (365 days) from now, or an
 * absolute UTC time "YYYY-MM-DDTHH:MM:SSZ" or date "YYYY-MM-DD" (midnight UTC).
 */
upk_status cli_parse_when(const char *text, time_t now, time_t *out, struct upk_error *err);
/* 1 when text is a relative period like "90d" (not a date). */
int cli_when_is_relative(const char *text);

/* ---- files ---- */

/* Hard cap on metadata and config files read by the tool. */
#define CLI_MAX_FILE (64u * 1024u * 1024u)

/* Whole file into a NUL-terminated buffer of at most max bytes. */
upk_status cli_read_file(const char *path, size_t max, char **out, size_t *out_len,
			 struct upk_error *err);
/*
 * Write data to path atomically: a temporary file in the same directory,
 * fsync, rename over path, fsync of the directory. mode is the new file's mode.
 */
upk_status cli_write_atomic(const char *path, const void *data, size_t len, unsigned mode,
			    struct upk_error *err);
/* mkdir -p with mode 0755 for every directory made. */
upk_status cli_mkdirs(const char *path, struct upk_error *err);
/* 1 when path exists (any type). */
int cli_exists(const char *path);
/* A malloc()ed "a/b" (aborts nothing: NULL only when out of memory). */
char *cli_join(const char *a, const char *b);

/*
 * Copy src to dst atomically (parent directories created) while computing
 * its length, SHA-256 and SHA-512 (lower-case hex). dst may be NULL to only hash.
 */
struct cli_file_digest {
	int64_t length;
	char sha256[2 * 32 + 1];
	char sha512[2 * 64 + 1];
};
upk_status cli_copy_hashed(const char *src, const char *dst, struct cli_file_digest *out,
			   struct upk_error *err);

/* ---- keys ---- */

/*
 * The passphrase for encrypted private keys: the first line of
 * --passphrase-file when given, else $UPKEEP_PASSPHRASE, else (only when
 * stdin is a terminal and prompt is set) asked for without echo. *out NULL
 * means none is available. The caller wipes and frees it (cli_passphrase_free).
 */
upk_status cli_passphrase(const char *passphrase_file, int prompt, const char *what, char **out,
			  struct upk_error *err);
void cli_passphrase_free(char *p);

/*
 * Read a key file: a public key, or a private key that is decrypted with
 * cli_passphrase() when it needs one. need_private makes a public key file an error.
 */
upk_status cli_load_key(const char *path, const char *passphrase_file, int need_private,
			struct upk_key **out, struct upk_error *err);

#endif
