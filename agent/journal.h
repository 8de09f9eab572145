/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's state file: one JSON object replaced atomically on every
 * commit, so after a crash it holds exactly the last committed state. The
 * update state machine journals its steps here; installers mark slots here.
 */
#ifndef UPKEEP_AGENT_JOURNAL_H
#define UPKEEP_AGENT_JOURNAL_H

#include <stdint.h>
#include <jansson.h>

#include "upkeep/error.h"

#define JOURNAL_MAX_BYTES (1024u * 1024u)
#define JOURNAL_FORMAT 1

struct journal;

/*
 * Open the state file at path. A missing file gives an empty state; a file
 * that is not a JSON object of our format is UPK_ERR_INVALID (never silently
 * reset: the state decides what the device boots). A leftover temporary file
 * of an interrupted commit is removed.
 */
upk_status journal_open(const char *path, struct journal **out, struct upk_error *err);

/* The value under key (borrowed, valid until the next set/del/free) or NULL. */
json_t *journal_get(const struct journal *j, const char *key);
/* Set key to value (the reference is stolen, also on failure). Visible on disk at commit. */
upk_status journal_set(struct journal *j, const char *key, json_t *value, struct upk_error *err);
void journal_del(struct journal *j, const char *key);

/* Write the whole state atomically and durably; the sequence number goes up by one. */
upk_status journal_commit(struct journal *j, struct upk_error *err);

/* Commits so far (persisted as "seq"). */
uint64_t journal_seq(const struct journal *j);
const char *journal_path(const struct journal *j);

void journal_free(struct journal *j);

#endif
