/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Writing and querying the audit log. Rows name the actor by key id and kind
 * (owner, device, creator, server); the detail is a small JSON object.
 */
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "handlers.h"
#include "server.h"
#include "store.h"

static const char *kind_name(const struct principal *who)
{
	if (who == NULL)
		return "server";
	switch (who->kind) {
	case PRINCIPAL_CREATOR: return "creator";
	case PRINCIPAL_OWNER: return "owner";
	case PRINCIPAL_DEVICE: return "device";
	default: return "anonymous";
	}
}

upk_status audit_record(struct server *srv, int64_t fleet, const char *device_id,
			const struct principal *who, const char *action, json_t *detail,
			int64_t now, struct upk_error *err)
{
	struct store *st = srv->store;
	upk_status ret;

	if (who != NULL && who->kind == PRINCIPAL_OWNER && detail != NULL)
		json_object_set_new(detail, "role", json_string(who->role));
	ret = st->ops->audit_append(st, fleet, device_id, kind_name(who),
				    who != NULL ? who->keyid : "server", action, detail, now, err);
	json_decref(detail);
	return ret;
}

void handle_audit_query(struct req *rq, struct reply *rp)
{
	struct store *st = rq->srv->store;
	struct upk_error err = {0};
	char device[80] = "", num[32];
	long long after = 0, limit = 100;
	json_t *rows = NULL;
	upk_status ret;

	if (req_query(rq, "device", device, sizeof(device)) < 0 ||
	    (device[0] != '\0' && strlen(device) != UPK_KEYID_HEX_LEN)) {
		reply_error(rp, 400, "invalid", "device must be a 64-hex device id");
		return;
	}
	if (req_query(rq, "after", num, sizeof(num)) == 1)
		after = strtoll(num, NULL, 10);
	if (req_query(rq, "limit", num, sizeof(num)) == 1)
		limit = strtoll(num, NULL, 10);
	if (after < 0 || limit < 1 || limit > 1000) {
		reply_error(rp, 400, "invalid", "after must be >= 0 and limit within 1..1000");
		return;
	}
	ret = st->ops->audit_query(st, rq->fleet_id, device[0] ? device : NULL, after, limit,
				   &rows, &err);
	if (ret != UPK_OK) {
		reply_upk(rp, ret, &err);
		return;
	}
	reply_json(rp, 200, json_pack("{s:o}", "entries", rows));
}
