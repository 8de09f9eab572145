/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One update check in-process, for the agent's update and ownership tests:
 * the state file and bootloader opened as upkeepd opens them, an update
 * context over them (no reboot command), and reading keys back from the
 * state file as committed. Header-only, like tu_agent.h.
 */
#ifndef UPK_TU_UPDATE_H
#define UPK_TU_UPDATE_H

#include <string.h>
#include <jansson.h>

#include "bootloader.h"
#include "journal.h"
#include "testutil.h"
#include "tu_repo.h"
#include "update.h"
#include "upkeep/target_info.h"

struct tu_run {
	struct journal *j;
	struct bootloader *bl;
	struct update_ctx uc;
};

static inline void tu_run_open(struct tu_run *r, const struct agent_config *cfg,
                               const char *state_path, const char *device_id)
{
	struct upk_error err = {0};

	memset(r, 0, sizeof(*r));
	if (journal_open(state_path, &r->j, &err) != UPK_OK ||
	    bootloader_open(&cfg->bootloader, &r->bl, &err) != UPK_OK)
		fail_msg("open: %s", err.msg);
	r->uc.cfg = cfg;
	r->uc.device_id = device_id;
	r->uc.journal = r->j;
	r->uc.bl = r->bl;
	r->uc.no_reboot = 1;
}

static inline void tu_run_close(struct tu_run *r)
{
	journal_free(r->j);
	bootloader_free(r->bl);
}

/* A new reference to the committed value of key in the state file, or NULL. */
static inline json_t *tu_state_get(const char *state_path, const char *key)
{
	json_t *s = json_load_file(state_path, 0, NULL), *v;

	if (s == NULL)
		return NULL;
	v = json_object_get(s, key);
	json_incref(v);
	json_decref(s);
	return v;
}

/*
 * Publish path in the image repository with custom.upkeep (type NULL: none),
 * and assign it in the director (NULL: do not).
 */
static inline void tu_publish_target(struct tu_repo *image, struct tu_repo *director,
                                     const char *path, const void *data, size_t len,
                                     const char *type, const char *version, int64_t sv,
                                     const char *hw, const char *selector)
{
	struct upk_error err = {0};
	struct tu_role *t = tu_repo_role(image, "targets");
	struct upk_target e;
	json_t *custom = NULL, *hashes;

	if (tu_repo_add_target(image, "targets", path, data, len, &err) != UPK_OK)
		fail_msg("add: %s", err.msg);
	if (type != NULL) {
		struct upk_target_info info = {0};
		char *hwl[1] = {(char *)hw};

		upk_target_type_from_name(type, &info.type, NULL);
		info.version = (char *)version;
		info.security_version = sv;
		info.hardware = hwl;
		info.n_hardware = 1;
		info.selector = (char *)selector;
		if (upk_target_info_to_custom(&info, &custom, &err) != UPK_OK)
			fail_msg("custom: %s", err.msg);
	}
	assert_int_equal(upk_targets_find(t->md, path, &e, &err), UPK_OK);
	hashes = json_deep_copy(e.hashes);
	assert_int_equal(upk_targets_set(t->md, path, (int64_t)len, hashes, custom, &err), UPK_OK);
	json_decref(hashes);
	json_decref(custom);
	if (tu_repo_publish(image, &err) != UPK_OK)
		fail_msg("publish: %s", err.msg);
	if (director != NULL) {
		if (tu_repo_add_target(director, "targets", path, data, len, &err) != UPK_OK ||
		    tu_repo_publish(director, &err) != UPK_OK)
			fail_msg("director: %s", err.msg);
	}
}

#endif
