/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The device event queue in the state file: appended where the event
 * happens (in the same commit as what it reports), removed only after the
 * server answered the check-in that carried it.
 */
#include <time.h>

#include "events.h"

upk_status events_append_wipe(struct journal *j, const char *reason, const char *transfer,
                              struct upk_error *err)
{
	json_t *list = journal_get(j, "events"), *ev;
	char at[32];
	time_t t = time(NULL);
	struct tm tm;

	if (!json_is_array(list)) {
		upk_status ret = journal_set(j, "events", json_array(), err);

		if (ret != UPK_OK)
			return ret;
		list = journal_get(j, "events");
	}
	gmtime_r(&t, &tm);
	strftime(at, sizeof(at), "%Y-%m-%dT%H:%M:%SZ", &tm);
	ev = json_pack("{s:s,s:s,s:s}", "kind", "private-data-wiped", "reason", reason, "at", at);
	/* A factory reset has no transfer: the member is left out, never null. */
	if (ev != NULL && transfer != NULL &&
	    json_object_set_new(ev, "transfer", json_string(transfer)) != 0) {
		json_decref(ev);
		ev = NULL;
	}
	if (ev == NULL || json_array_append_new(list, ev) != 0)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	/* Bounded like the server's limit: a device offline for long keeps the newest. */
	while (json_array_size(list) > EVENTS_MAX)
		json_array_remove(list, 0);
	return UPK_OK;
}

const json_t *events_pending(const struct journal *j)
{
	const json_t *list = journal_get(j, "events");

	return json_is_array(list) && json_array_size(list) > 0 ? list : NULL;
}

upk_status events_delivered(struct journal *j, size_t n, struct upk_error *err)
{
	json_t *list = journal_get(j, "events");

	if (!json_is_array(list) || n == 0)
		return UPK_OK;
	for (size_t i = 0; i < n && json_array_size(list) > 0; i++)
		json_array_remove(list, 0);
	if (json_array_size(list) == 0)
		journal_del(j, "events");
	return journal_commit(j, err);
}
