/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Script backend: the integrator's own program implements the trial-boot
 * semantics for a bootloader we do not know (barebox, EFI boot entries, a
 * vendor tool). Protocol (docs/bootloader.md): `COMMAND state` prints
 * key=value lines; `COMMAND trial SLOT`, `COMMAND commit SLOT` and
 * `COMMAND rollback` change the state; exit status 0 means done.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bootloader.h"
#include "proc.h"

struct script_bl {
	struct bootloader base;
	char *command;
	unsigned timeout_s;
};

static upk_status run(struct script_bl *bl, const char *verb, const char *slot, char **output,
                      struct upk_error *err)
{
	const char *argv[] = {bl->command, verb, slot, NULL};
	struct proc_spec spec = {.argv = argv, .timeout_ms = bl->timeout_s * 1000u};
	struct proc *p = NULL;
	char what[64];
	int status = 0;
	upk_status ret;

	snprintf(what, sizeof(what), "%s %s", bl->command, verb);
	ret = proc_start(&spec, &p, err);
	if (ret == UPK_OK)
		ret = proc_finish(p, &status, err);
	if (ret == UPK_OK && status != 0)
		ret = proc_status_error(p, status, UPK_ERR_IO, err, what);
	if (ret == UPK_OK && output != NULL) {
		*output = strdup(proc_stdout(p, NULL));
		if (*output == NULL)
			ret = upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	}
	proc_free(p);
	return ret;
}

/* Parse the `state` output: committed=, booted=, next=, armed=, trial= lines. */
static upk_status parse_state(char *text, struct boot_state *st, struct upk_error *err)
{
	char *save = NULL, *line;
	upk_status ret;

	memset(st, 0, sizeof(*st));
	for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(line, '=');
		size_t n = strlen(line);

		if (n > 0 && line[n - 1] == '\r')
			line[--n] = '\0';
		if (n == 0)
			continue;
		if (eq == NULL)
			return upk_error_set(err, UPK_ERR_INVALID,
			                     "state output line \"%.64s\" is not key=value", line);
		*eq = '\0';
		const char *v = eq + 1;
		if (strcmp(line, "committed") == 0)
			ret = boot_name_copy(st->committed, v, "committed", err);
		else if (strcmp(line, "booted") == 0)
			ret = boot_name_copy(st->booted, v, "booted", err);
		else if (strcmp(line, "next") == 0)
			ret = boot_name_copy(st->next, v, "next", err);
		else if (strcmp(line, "armed") == 0 || strcmp(line, "trial") == 0) {
			if (strcmp(v, "0") != 0 && strcmp(v, "1") != 0)
				return upk_error_set(err, UPK_ERR_INVALID,
				                     "state output: %s=%.32s is not 0 or 1", line,
				                     v);
			*(line[0] == 'a' ? &st->armed : &st->trial) = v[0] == '1';
			ret = UPK_OK;
		} else
			return upk_error_set(err, UPK_ERR_INVALID,
			                     "state output: unknown key \"%.32s\" (committed, "
			                     "booted, next, armed, trial)",
			                     line);
		if (ret != UPK_OK)
			return upk_error_prefix(err, ret, "state output: ");
	}
	if (st->committed[0] == '\0')
		return upk_error_set(err, UPK_ERR_INVALID, "state output has no committed= line");
	if (st->booted[0] == '\0')
		strcpy(st->booted, st->trial ? "" : st->committed);
	if (st->booted[0] == '\0')
		return upk_error_set(err, UPK_ERR_INVALID,
		                     "state output says trial=1 but has no booted= line");
	if (st->next[0] == '\0')
		strcpy(st->next, st->committed);
	return UPK_OK;
}

static upk_status script_state(struct bootloader *base, struct boot_state *out,
                               struct upk_error *err)
{
	char *text = NULL;
	upk_status ret;

	ret = run((struct script_bl *)base, "state", NULL, &text, err);
	if (ret == UPK_OK)
		ret = parse_state(text, out, err);
	free(text);
	return ret;
}

static upk_status script_set_trial(struct bootloader *base, const char *slot, struct upk_error *err)
{
	if (!agent_config_name_valid(slot))
		return upk_error_set(err, UPK_ERR_INVALID, "\"%s\" is not a slot name", slot);
	return run((struct script_bl *)base, "trial", slot, NULL, err);
}

static upk_status script_commit(struct bootloader *base, const char *slot, struct upk_error *err)
{
	if (!agent_config_name_valid(slot))
		return upk_error_set(err, UPK_ERR_INVALID, "\"%s\" is not a slot name", slot);
	return run((struct script_bl *)base, "commit", slot, NULL, err);
}

static upk_status script_rollback(struct bootloader *base, struct upk_error *err)
{
	return run((struct script_bl *)base, "rollback", NULL, NULL, err);
}

static void script_free(struct bootloader *base)
{
	struct script_bl *bl = (struct script_bl *)base;

	free(bl->command);
	free(bl);
}

static const struct bootloader_ops script_ops = {
    .name = "boot script",
    .state = script_state,
    .set_trial = script_set_trial,
    .commit = script_commit,
    .rollback = script_rollback,
    .free = script_free,
};

upk_status bootloader_open_script(const struct config_bootloader *cfg, struct bootloader **out,
                                  struct upk_error *err)
{
	struct script_bl *bl;

	if (cfg->command == NULL)
		return upk_error_set(err, UPK_ERR_INVALID,
		                     "bootloader type script needs a command");
	bl = calloc(1, sizeof(*bl));
	if (bl == NULL || (bl->command = strdup(cfg->command)) == NULL) {
		free(bl);
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	}
	bl->base.ops = &script_ops;
	bl->timeout_s = cfg->timeout_s ? cfg->timeout_s : 60;
	*out = &bl->base;
	return UPK_OK;
}
