/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Command tables, option parsing, --help and one-line error output for the
 * `upkeep` tool. A small parser of our own instead of getopt_long: it keeps no
 * global state, so tests can run commands one after another in one process.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void print_commands(FILE *f, const char *prog, const struct cli_command *cmds, size_t n)
{
	fprintf(f, "usage: %s COMMAND [options]\n\ncommands:\n", prog);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "  %-10s %s\n", cmds[i].name, cmds[i].summary);
	fprintf(f, "\nRun '%s COMMAND --help' for the options of a command.\n", prog);
}

int cli_dispatch(const char *prog, const struct cli_command *cmds, size_t n_cmds, int argc,
		 char **argv)
{
	const char *name = argc > 1 ? argv[1] : NULL;

	if (name == NULL) {
		fprintf(stderr, "upkeep: %s: a command is needed (see '%s --help')\n", prog, prog);
		return CLI_EXIT_USAGE;
	}
	if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
		print_commands(stdout, prog, cmds, n_cmds);
		return CLI_EXIT_OK;
	}
	for (size_t i = 0; i < n_cmds; i++) {
		if (strcmp(cmds[i].name, name) == 0)
			return cmds[i].run(argc - 1, argv + 1);
	}
	fprintf(stderr, "upkeep: %s: unknown command '%.64s' (see '%s --help')\n", prog, name,
		prog);
	return CLI_EXIT_USAGE;
}

static void print_help(const struct cli_spec *spec)
{
	printf("usage: %s\n", spec->usage);
	if (spec->description != NULL)
		printf("\n%s\n", spec->description);
	if (spec->opts != NULL && spec->opts[0].name != NULL) {
		printf("\noptions:\n");
		for (const struct cli_opt *o = spec->opts; o->name != NULL; o++) {
			char left[64];

			snprintf(left, sizeof(left), "--%s%s%s", o->name, o->arg ? " " : "",
				 o->arg ? o->arg : "");
			printf("  %-28s %s%s\n", left, o->help,
			       (o->flags & CLI_OPT_REPEAT) ? " (repeatable)" : "");
		}
	}
	printf("  %-28s %s\n", "--help", "show this help and exit");
}

static int find_opt(const struct cli_spec *spec, const char *name, size_t name_len)
{
	if (spec->opts == NULL)
		return -1;
	for (int i = 0; spec->opts[i].name != NULL && i < CLI_MAX_OPTS; i++) {
		if (strlen(spec->opts[i].name) == name_len &&
		    strncmp(spec->opts[i].name, name, name_len) == 0)
			return i;
	}
	return -1;
}

static int usage_error(const struct cli_spec *spec, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int usage_error(const struct cli_spec *spec, const char *fmt, ...)
{
	/* The usage string starts with the full command name ("upkeep key generate ..."). */
	size_t cmd_len = strcspn(spec->usage, "[A-Z");
	va_list ap;

	while (cmd_len > 0 && spec->usage[cmd_len - 1] == ' ')
		cmd_len--;
	fprintf(stderr, "upkeep: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see '%.*s --help')\n", (int)cmd_len, spec->usage);
	return CLI_BAD_USAGE;
}

static int add_value(struct cli_args *a, int idx, char *value)
{
	char **nv = realloc(a->opt[idx].vals, (a->opt[idx].n + 1) * sizeof(*nv));

	if (nv == NULL)
		return -1;
	a->opt[idx].vals = nv;
	nv[a->opt[idx].n++] = value;
	return 0;
}

enum cli_parse_result cli_parse(const struct cli_spec *spec, int argc, char **argv,
				struct cli_args *out)
{
	int only_pos = 0;

	memset(out, 0, sizeof(*out));
	out->spec = spec;
	out->pos = calloc((size_t)(argc > 0 ? argc : 1), sizeof(*out->pos));
	if (out->pos == NULL) {
		fprintf(stderr, "upkeep: out of memory\n");
		return CLI_BAD_USAGE;
	}
	/* --help wins wherever it is, so a half-typed command line still gets help. */
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			print_help(spec);
			return CLI_HELP_SHOWN;
		}
	}
	for (int i = 1; i < argc; i++) {
		char *arg = argv[i];

		if (only_pos || arg[0] != '-' || arg[1] == '\0') {
			out->pos[out->n_pos++] = arg;
			continue;
		}
		if (strcmp(arg, "--") == 0) {
			only_pos = 1;
			continue;
		}
		if (arg[1] != '-')
			return usage_error(spec, "unknown option '%.64s'", arg);

		const char *name = arg + 2;
		const char *eq = strchr(name, '=');
		size_t name_len = eq ? (size_t)(eq - name) : strlen(name);
		int idx = find_opt(spec, name, name_len);

		if (idx < 0)
			return usage_error(spec, "unknown option '%.64s'", arg);
		const struct cli_opt *o = &spec->opts[idx];
		char *value;

		if (o->arg == NULL) {
			if (eq != NULL)
				return usage_error(spec, "option '--%.64s' takes no value", o->name);
			value = arg;
		} else if (eq != NULL) {
			value = (char *)eq + 1;
		} else {
			if (i + 1 >= argc)
				return usage_error(spec, "option '--%.64s' needs a value", o->name);
			value = argv[++i];
		}
		if (out->opt[idx].n > 0 && !(o->flags & CLI_OPT_REPEAT) && o->arg != NULL)
			return usage_error(spec, "option '--%.64s' given more than once", o->name);
		if (add_value(out, idx, value) != 0) {
			fprintf(stderr, "upkeep: out of memory\n");
			return CLI_BAD_USAGE;
		}
	}
	if (out->n_pos < spec->min_args)
		return usage_error(spec, "missing arguments");
	if (out->n_pos > spec->max_args)
		return usage_error(spec, "unexpected argument '%.64s'", out->pos[spec->max_args]);
	return CLI_GO;
}

void cli_args_free(struct cli_args *a)
{
	if (a == NULL)
		return;
	free(a->pos);
	for (size_t i = 0; i < CLI_MAX_OPTS; i++)
		free(a->opt[i].vals);
	memset(a, 0, sizeof(*a));
}

int cli_parse_exit(enum cli_parse_result r)
{
	return r == CLI_HELP_SHOWN ? CLI_EXIT_OK : CLI_EXIT_USAGE;
}

const char *cli_opt(const struct cli_args *a, const char *name)
{
	int idx = find_opt(a->spec, name, strlen(name));

	if (idx < 0 || a->opt[idx].n == 0)
		return NULL;
	return a->opt[idx].vals[a->opt[idx].n - 1];
}

char *const *cli_opt_all(const struct cli_args *a, const char *name, size_t *n)
{
	int idx = find_opt(a->spec, name, strlen(name));

	if (idx < 0) {
		*n = 0;
		return NULL;
	}
	*n = a->opt[idx].n;
	return a->opt[idx].vals;
}

int cli_flag(const struct cli_args *a, const char *name)
{
	int idx = find_opt(a->spec, name, strlen(name));

	return idx >= 0 && a->opt[idx].n > 0;
}

int cli_fail(const struct upk_error *err)
{
	char line[UPK_ERROR_MSG_MAX];
	size_t i;

	snprintf(line, sizeof(line), "%s",
		 err != NULL && err->msg[0] ? err->msg : "failed (no details)");
	/* Exactly one line, whatever a message picked up on the way. */
	for (i = 0; line[i] != '\0'; i++) {
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	}
	fprintf(stderr, "upkeep: %s\n", line);
	return CLI_EXIT_FAIL;
}

void cli_warn(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "upkeep: warning: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

upk_status cli_print_json(json_t *value, struct upk_error *err)
{
	int rc;

	if (value == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory building JSON output");
	rc = json_dumpf(value, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(value);
	if (rc != 0 || fputc('\n', stdout) == EOF || fflush(stdout) != 0)
		return upk_error_set(err, UPK_ERR_IO, "writing JSON to stdout failed");
	return UPK_OK;
}

void cli_short_keyid(const char *keyid, char out[17])
{
	snprintf(out, 17, "%s", keyid ? keyid : "");
}
