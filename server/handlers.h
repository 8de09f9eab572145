/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Every HTTP handler the routing table in http.c names, grouped by the file
 * that implements it. A handler sees a complete, authenticated request.
 */
#ifndef UPK_SERVER_HANDLERS_H
#define UPK_SERVER_HANDLERS_H

#include "http.h"

/* fleet.c */
void handle_health(struct req *rq, struct reply *rp);
void handle_keyset_create(struct req *rq, struct reply *rp);
void handle_fleet_create(struct req *rq, struct reply *rp);
void handle_fleet_show(struct req *rq, struct reply *rp);
void handle_key_list(struct req *rq, struct reply *rp);
void handle_key_add(struct req *rq, struct reply *rp);
void handle_key_delete(struct req *rq, struct reply *rp);

/* repo_host.c */
void handle_image_upload(struct req *rq, struct reply *rp);
void handle_image_meta_get(struct req *rq, struct reply *rp);
void handle_image_target_get(struct req *rq, struct reply *rp);
void handle_payload_upload(struct req *rq, struct reply *rp);
int payload_stream_start(struct req *rq, struct reply *rp);
int payload_stream_data(struct req *rq, const void *data, size_t len, struct reply *rp);
void payload_stream_free(struct req *rq);

/* director.c */
void handle_director_root_upload(struct req *rq, struct reply *rp);
void handle_director_meta_get(struct req *rq, struct reply *rp);
void handle_assign(struct req *rq, struct reply *rp);
void handle_unassign(struct req *rq, struct reply *rp);

/* device_api.c */
void handle_enrol(struct req *rq, struct reply *rp);
void handle_checkin(struct req *rq, struct reply *rp);
void handle_status_report(struct req *rq, struct reply *rp);
void handle_device_list(struct req *rq, struct reply *rp);
void handle_device_show(struct req *rq, struct reply *rp);
void handle_device_accept(struct req *rq, struct reply *rp);
void handle_device_reject(struct req *rq, struct reply *rp);
void handle_device_tags(struct req *rq, struct reply *rp);
void handle_preauth(struct req *rq, struct reply *rp);
void handle_deployment_list(struct req *rq, struct reply *rp);

/* rollout.c */
void handle_rollout_create(struct req *rq, struct reply *rp);
void handle_rollout_list(struct req *rq, struct reply *rp);
void handle_rollout_show(struct req *rq, struct reply *rp);
void handle_rollout_devices(struct req *rq, struct reply *rp);
void handle_rollout_pause(struct req *rq, struct reply *rp);
void handle_rollout_resume(struct req *rq, struct reply *rp);
void handle_rollout_abort(struct req *rq, struct reply *rp);
void handle_pin(struct req *rq, struct reply *rp);
void handle_unpin(struct req *rq, struct reply *rp);

/* claim.c */
void handle_claim_create(struct req *rq, struct reply *rp);
void handle_claim_poll(struct req *rq, struct reply *rp);
/* transfer.c */
void handle_transfer_create(struct req *rq, struct reply *rp);

/* audit.c */
void handle_audit_query(struct req *rq, struct reply *rp);

#endif
