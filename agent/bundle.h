/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Offline bundles: one tar file holding the signed metadata of both
 * repositories and the payloads, read through a fetcher so that `upkeepd
 * install BUNDLE` verifies exactly what a network check verifies. The
 * format is in docs/agent.md ("Bundles").
 */
#ifndef UPKEEP_AGENT_BUNDLE_H
#define UPKEEP_AGENT_BUNDLE_H

#include "upkeep/error.h"
#include "upkeep/fetch.h"

/* URLs the bundle fetcher answers: BUNDLE_URL "image/metadata/" and so on. */
#define BUNDLE_URL "bundle:/"
#define BUNDLE_MAX_ENTRIES 4096u
#define BUNDLE_NAME_MAX 255u

struct bundle;

/*
 * Index the tar (ustar) at path: one pass over the headers, payloads are
 * skipped. Anything but regular files and directories, names over
 * BUNDLE_NAME_MAX, "..", absolute names, duplicates, or more than
 * BUNDLE_MAX_ENTRIES entries is UPK_ERR_INVALID naming the entry.
 */
upk_status bundle_open(const char *path, struct bundle **out, struct upk_error *err);

/*
 * The fetcher over the bundle's members (valid until bundle_close): URL
 * BUNDLE_URL + member name. A consistent-snapshot target name
 * "targets/DIR/HASH.NAME" falls back to the member "targets/DIR/NAME": the
 * client verifies length and hashes of whatever it is given either way.
 * It also resumes (fetch_range).
 */
const struct upk_fetcher *bundle_fetcher(struct bundle *b);

void bundle_close(struct bundle *b);

#endif
