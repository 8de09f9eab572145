/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A fleet on a running upkeep-server for the rollout, durability and
 * compromise tests: owner keys and an image repository made with the real
 * `upkeep` tool (root and targets 1 of 1, several targets), the fleet
 * created over the signed API, metadata and payloads uploaded, and devices
 * pre-authorised with tags and enrolled with their own keys. Header-only,
 * like tu_srv.h, which it builds on.
 */
#ifndef UPK_TU_FLEET_H
#define UPK_TU_FLEET_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tu_srv.h"

/* Paths here are a temporary directory plus short names. */
#pragma GCC diagnostic ignored "-Wformat-truncation"

#define TF_MAX_DEVICES 32

/* Fail with the call, its message and status unless it returns UPK_OK (e_: its error). */
#define OK(call)                                                                                   \
	do {                                                                                       \
		struct upk_error e_ = {0};                                                         \
		upk_status s_ = (call);                                                            \
		if (s_ != UPK_OK)                                                                  \
			fail_msg("%s: %s (%s)", #call, e_.msg, upk_status_str(s_));                \
	} while (0)

/* One target of the fleet's image repository. */
struct tf_target {
	const char *path;     /* e.g. "images/fw-2.0.img" */
	const char *version;
	int security_version;
	const char *selector; /* NULL: every device of hw-a */
};

struct tfleet {
	char dir[4200]; /* the owner's working directory */
	char name[64];
	unsigned port;
	const struct upk_key *owner; /* a configured creator: the fleet's admin */
	struct upk_key *dev[TF_MAX_DEVICES];
	char devid[TF_MAX_DEVICES][UPK_KEYID_HEX_LEN + 1];
	size_t n_dev;
};

static inline const char *tf_build_dir(void)
{
	const char *b = getenv("UPK_BUILD_DIR");

	return b != NULL ? b : ".";
}

static inline void tf_run(const char *dir, const char *cmd)
{
	int rc = tu_system("cd '%s' && ( %s ) >/dev/null", dir, cmd);

	if (rc != 0)
		fail_msg("in %s: %s: exit %d", dir, cmd, rc);
}

static inline char *tf_text(const char *dir, const char *rel)
{
	char path[4400];
	char *t;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	t = tu_read_file(path, NULL);
	if (t == NULL)
		fail_msg("cannot read %s", path);
	return t;
}

/* The payload bytes of a target: deterministic, named after its path. */
static inline void tf_payload(const char *path, char *out, size_t size)
{
	snprintf(out, size, "payload of %s", path);
}

/*
 * Make fleet `name` in workdir/name with the given targets (all of type
 * image for hardware hw-a) and upload everything.
 */
static inline void tf_create(struct tfleet *f, unsigned port, const char *workdir,
			     const char *name, const struct upk_key *creator,
			     const struct tf_target *targets, size_t n_targets)
{
	char cmd[8192], api[512], bytes[512];
	json_t *ks, *body, *keys, *v;
	const char *kname;
	char *text;

	memset(f, 0, sizeof(*f));
	f->port = port;
	f->owner = creator;
	snprintf(f->name, sizeof(f->name), "%s", name);
	snprintf(f->dir, sizeof(f->dir), "%s/%s", workdir, name);
	mkdir(f->dir, 0700);
	ks = tu_srv_expect(port, "POST", "/v1/keysets", creator, NULL, 201);
	keys = json_object_get(ks, "keys");
	json_object_foreach(keys, kname, v) {
		char path[4400];
		const char *pem = json_string_value(json_object_get(v, "pem"));

		snprintf(path, sizeof(path), "%s/%s.pub", f->dir, kname);
		tu_write_file(path, pem, strlen(pem));
	}
	snprintf(cmd, sizeof(cmd),
		 "U=%s/cli/upkeep && for k in r1 t1 d1; do $U key generate $k --no-passphrase; done && "
		 "$U repo init img --root-key r1.pub --targets-key t1.pub "
		 "--snapshot-key image_snapshot.pub --timestamp-key image_timestamp.pub && "
		 "$U sign img root --key r1.key && "
		 "$U repo init dir --root-key d1.pub --targets-key director_targets.pub "
		 "--snapshot-key director_snapshot.pub --timestamp-key director_timestamp.pub && "
		 "$U sign dir root --key d1.key",
		 tf_build_dir());
	tf_run(f->dir, cmd);
	for (size_t i = 0; i < n_targets; i++) {
		char file[64], sel[600] = "";

		snprintf(file, sizeof(file), "payload%zu.bin", i);
		tf_payload(targets[i].path, bytes, sizeof(bytes));
		snprintf(cmd, sizeof(cmd), "%s/%s", f->dir, file);
		tu_write_file(cmd, bytes, strlen(bytes));
		if (targets[i].selector != NULL)
			snprintf(sel, sizeof(sel), "--selector '%s'", targets[i].selector);
		snprintf(cmd, sizeof(cmd),
			 "%s/cli/upkeep target add img %s --path %s --type image --version %s "
			 "--security-version %d --hardware hw-a %s",
			 tf_build_dir(), file, targets[i].path, targets[i].version,
			 targets[i].security_version, sel);
		tf_run(f->dir, cmd);
	}
	snprintf(cmd, sizeof(cmd), "%s/cli/upkeep sign img targets --key t1.key", tf_build_dir());
	tf_run(f->dir, cmd);
	{
		char p[4400];
		json_t *ir, *dr;

		snprintf(p, sizeof(p), "%s/img/staged/root.json", f->dir);
		ir = json_load_file(p, 0, NULL);
		snprintf(p, sizeof(p), "%s/dir/staged/root.json", f->dir);
		dr = json_load_file(p, 0, NULL);
		assert_non_null(ir);
		assert_non_null(dr);
		body = json_pack("{s:s, s:O, s:o, s:o}", "name", name, "keyset",
				 json_object_get(ks, "keyset"), "image_root", ir, "director_root", dr);
	}
	text = json_dumps(body, JSON_COMPACT);
	json_decref(tu_srv_expect(port, "POST", "/v1/fleets", creator, text, 201));
	free(text);
	json_decref(body);
	json_decref(ks);
	snprintf(api, sizeof(api), "/v1/fleets/%s/image/metadata/targets", name);
	text = tf_text(f->dir, "img/staged/targets.json");
	json_decref(tu_srv_expect(port, "PUT", api, creator, text, 200));
	free(text);
	for (size_t i = 0; i < n_targets; i++) {
		snprintf(api, sizeof(api), "/v1/fleets/%s/image/targets/%s", name, targets[i].path);
		tf_payload(targets[i].path, bytes, sizeof(bytes));
		json_decref(tu_srv_expect(port, "PUT", api, creator, bytes, 200));
	}
}

/* n new devices of hardware hw-a, pre-authorised with tags {"site": site}, enrolled. */
static inline void tf_add_devices(struct tfleet *f, size_t n, const char *site)
{
	char api[512], body[512];

	for (size_t k = 0; k < n; k++) {
		size_t i = f->n_dev++;
		json_t *tuf = NULL, *b;
		struct upk_error e = {0};
		char *text;

		assert_true(i < TF_MAX_DEVICES);
		assert_int_equal(upk_key_generate_ed25519(&f->dev[i], &e), UPK_OK);
		assert_int_equal(upk_key_id(f->dev[i], f->devid[i], &e), UPK_OK);
		snprintf(body, sizeof(body),
			 "{\"devices\":[{\"id\":\"%s\",\"tags\":{\"site\":\"%s\"}}]}", f->devid[i],
			 site);
		snprintf(api, sizeof(api), "/v1/fleets/%s/preauth", f->name);
		json_decref(tu_srv_expect(f->port, "POST", api, f->owner, body, 200));
		assert_int_equal(upk_key_to_tuf(f->dev[i], &tuf, &e), UPK_OK);
		b = json_pack("{s:o, s:s}", "public_key", tuf, "hardware_id", "hw-a");
		text = json_dumps(b, JSON_COMPACT);
		snprintf(api, sizeof(api), "/v1/fleets/%s/enrol", f->name);
		json_decref(tu_srv_expect(f->port, "POST", api, f->dev[i], text, 201));
		free(text);
		json_decref(b);
	}
}

/*
 * Start the real upkeep-server on a free loopback port with its database,
 * data and log under dir and dir/creator.pub as the creator; *port gets the
 * port it printed. Stop it with SIGTERM.
 */
static inline pid_t tf_spawn_server(const char *dir, unsigned *port)
{
	char bin[4200], log[4200], db[4200], data[4200], pub[4200];

	snprintf(bin, sizeof(bin), "%s/server/upkeep-server", tf_build_dir());
	snprintf(log, sizeof(log), "%s/server.log", dir);
	snprintf(db, sizeof(db), "%s/server.db", dir);
	snprintf(data, sizeof(data), "%s/srvdata", dir);
	snprintf(pub, sizeof(pub), "%s/creator.pub", dir);
	char *const argv[] = {bin,  "--database", db,          "--data-dir", data, "--port",
	                      "0",  "--threads",  "2",         "--creator",  pub,  NULL};

	return tu_spawn_server(argv, log, port);
}

/* Stop a server started by tf_spawn_server (SIGTERM, then wait for it). */
static inline void tf_stop_server(pid_t pid)
{
	int st;

	kill(pid, SIGTERM);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
}

static inline void tf_free(struct tfleet *f)
{
	for (size_t i = 0; i < f->n_dev; i++)
		upk_key_free(f->dev[i]);
	f->n_dev = 0;
}

/* Index of a device id, or fail. */
static inline size_t tf_index(const struct tfleet *f, const char *id)
{
	for (size_t i = 0; i < f->n_dev; i++)
		if (strcmp(f->devid[i], id) == 0)
			return i;
	fail_msg("unknown device %s", id);
	return 0;
}

/* Report state (and a reason for failures) on a deployment as device i. */
static inline void tf_report(const struct tfleet *f, size_t i, int64_t deployment,
			     const char *state)
{
	char api[512], body[256];

	snprintf(api, sizeof(api), "/v1/fleets/%s/deployments/%lld/status", f->name,
		 (long long)deployment);
	if (strcmp(state, "failure") == 0)
		snprintf(body, sizeof(body),
			 "{\"state\":\"failure\",\"reason\":\"health check failed\","
			 "\"log_tail\":\"app exited 3\"}");
	else
		snprintf(body, sizeof(body), "{\"state\":\"%s\"}", state);
	json_decref(tu_srv_expect(f->port, "POST", api, f->dev[i], body, 200));
}

#endif
