/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The rollout engine end to end on loopback with a real SQLite file: phases
 * assigned by bucket and advanced after soak time and success ratio (time
 * injected, no sleeping), a failing phase that halts by itself and whose
 * remaining devices are never assigned, pause/resume/abort, pins, history,
 * the rollout request parser; and the real binary killed with SIGKILL in the
 * middle of a rollout, restarted on the same file, losing no acknowledged
 * report and carrying on.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"
#include "tu_fleet.h"
#include "tu_server.h"

#include "api_parse.h"
#include "server.h"
#include "store.h"
#include "upkeep/selector.h"

static const struct tf_target TARGETS[] = {
	{"images/fw-2.0.img", "2.0.0", 2, NULL},
	{"images/fw-3.0.img", "3.0.0", 3, NULL},
	{"images/fw-4.0.img", "4.0.0", 4, NULL},
	{"images/fw-paris.img", "2.1.0", 2, "tag \"site\" = \"paris\""},
};

/* ---- the parser ---- */

static void test_parse(void **state)
{
	struct rollout_create_req r;
	struct upk_error err = {0};
	const char *good = "{\"target\":\"images/a.img\",\"phases\":[{\"percent\":\"0.5\",\"soak\":60},"
			   "{\"percent\":10},{\"percent\":100,\"soak\":0}],\"failure_threshold\":"
			   "\"12.5\",\"selector\":\"tag \\\"ring\\\" = \\\"beta\\\"\"}";
	static const char *const BAD[] = {
		"{\"phases\":[{\"percent\":10}]}",
		"{\"target\":\"a\",\"phases\":[]}",
		"{\"target\":\"a\",\"phases\":[{\"percent\":0}]}",
		"{\"target\":\"a\",\"phases\":[{\"percent\":101}]}",
		"{\"target\":\"a\",\"phases\":[{\"percent\":50},{\"percent\":50}]}",
		"{\"target\":\"a\",\"phases\":[{\"percent\":\"10.001\"}]}",
		"{\"target\":\"a\",\"phases\":[{\"percent\":\"1e2\"}]}",
		"{\"target\":\"a\",\"phases\":[{\"percent\":10,\"soak\":-1}]}",
		"{\"target\":\"a\",\"phases\":[{\"percent\":10,\"sok\":1}]}",
		"{\"target\":\"a\",\"phases\":[{\"percent\":10}],\"selector\":\"tag =\"}",
		"{\"target\":\"a\",\"phases\":[{\"percent\":10}],\"failure_threshold\":true}",
		"{\"target\":\"a\",\"phases\":[{\"percent\":10}],\"extra\":1}",
		"{\"target\":\"a\",\"phases\":[{\"percent\":10}],\"name\":\"has space\"}",
	};

	(void)state;
	if (parse_rollout_create(good, strlen(good), &r, &err) != UPK_OK)
		fail_msg("%s", err.msg);
	assert_int_equal(r.n_phases, 3);
	assert_int_equal(r.phases[0].percent_bp, 50);
	assert_int_equal(r.phases[0].soak, 60);
	assert_int_equal(r.phases[1].percent_bp, 1000);
	assert_int_equal(r.phases[2].percent_bp, 10000);
	assert_int_equal(r.failure_threshold_bp, 1250);
	assert_int_equal(r.success_ratio_bp, 8750);
	assert_string_equal(r.name, "a.img");
	assert_non_null(r.selector);
	rollout_create_req_clear(&r);
	for (size_t i = 0; i < sizeof(BAD) / sizeof(BAD[0]); i++) {
		if (parse_rollout_create(BAD[i], strlen(BAD[i]), &r, &err) == UPK_OK)
			fail_msg("accepted: %s", BAD[i]);
		assert_true(err.msg[0] != '\0');
	}
}

/* ---- the engine over HTTP ---- */

struct fx {
	char *tmp;
	char work[4200], db[4200], data[4200], creator_pub[4200];
	struct upk_key *creator;
	struct server *srv;
	struct tfleet fl;
};

static struct tf_server fx_server(struct fx *f)
{
	struct tf_server s = {.db = f->db, .data = f->data, .n_creators = 1};

	s.creators[0] = f->creator_pub;
	return s;
}

/* Maintenance passes run only when the tests run them. */
static void fx_start(struct fx *f)
{
	struct tf_server s = fx_server(f);

	f->srv = tf_server_start(&s);
}

static void fx_init(struct fx *f)
{
	memset(f, 0, sizeof(*f));
	f->tmp = tu_mkdtemp();
	snprintf(f->work, sizeof(f->work), "%s/work", f->tmp);
	snprintf(f->db, sizeof(f->db), "%s/server.db", f->tmp);
	snprintf(f->data, sizeof(f->data), "%s/data", f->tmp);
	snprintf(f->creator_pub, sizeof(f->creator_pub), "%s/creator.pub", f->tmp);
	mkdir(f->work, 0700);
	OK(upk_key_generate_ed25519(&f->creator, &e_));
	OK(upk_keyfile_write_public(f->creator_pub, f->creator, &e_));
}

static void fx_done(struct fx *f)
{
	tf_free(&f->fl);
	upk_key_free(f->creator);
	tu_rmtree(f->tmp);
	free(f->tmp);
}

/* Let seconds pass on the server's rollout clock and run a maintenance pass. */
static void pass_time(struct fx *f, int64_t seconds)
{
	f->srv->clock_offset += seconds;
	OK(server_maintain(f->srv, server_clock(f->srv), &e_));
}

static json_t *get(struct fx *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static json_t *post(struct fx *f, const char *body, long status, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static json_t *get(struct fx *f, const char *fmt, ...)
{
	char p[512], path[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p, sizeof(p), fmt, ap);
	va_end(ap);
	snprintf(path, sizeof(path), "/v1/fleets/%s%s", f->fl.name, p);
	return tu_srv_expect(f->fl.port, "GET", path, f->creator, NULL, 200);
}

static json_t *post(struct fx *f, const char *body, long status, const char *fmt, ...)
{
	char p[512], path[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p, sizeof(p), fmt, ap);
	va_end(ap);
	snprintf(path, sizeof(path), "/v1/fleets/%s%s", f->fl.name, p);
	return tu_srv_expect(f->fl.port, "POST", path, f->creator, body, status);
}

static int64_t create_rollout(struct fx *f, const char *body)
{
	json_t *j = post(f, body, 201, "/rollouts");
	int64_t id = json_integer_value(json_object_get(j, "id"));

	assert_true(id > 0);
	json_decref(j);
	return id;
}

static const char *rollout_state(struct fx *f, int64_t id, int64_t *phase)
{
	static char st[32];
	json_t *j = get(f, "/rollouts/%lld", (long long)id);

	snprintf(st, sizeof(st), "%s", json_string_value(json_object_get(j, "state")));
	if (phase != NULL)
		*phase = json_integer_value(json_object_get(j, "phase"));
	json_decref(j);
	return st;
}

/* Devices of the rollout: mask bit i set for device i; deployment ids in deps. */
static unsigned rollout_devices(struct fx *f, int64_t id, int64_t deps[TF_MAX_DEVICES])
{
	json_t *j = get(f, "/rollouts/%lld/devices", (long long)id), *d;
	unsigned mask = 0;
	size_t i;

	json_array_foreach(json_object_get(j, "devices"), i, d) {
		size_t k = tf_index(&f->fl, json_string_value(json_object_get(d, "device")));

		assert_false(mask & (1u << k)); /* one deployment per device and rollout */
		mask |= 1u << k;
		if (deps != NULL)
			deps[k] = json_integer_value(json_object_get(d, "deployment"));
	}
	json_decref(j);
	return mask;
}

/* Devices whose bucket for this rollout is below percent_bp, minus those in skip. */
static unsigned expected(struct fx *f, int64_t id, int64_t percent_bp, unsigned skip)
{
	char salt[32];
	unsigned mask = 0;

	snprintf(salt, sizeof(salt), "%lld", (long long)id);
	for (size_t i = 0; i < f->fl.n_dev; i++) {
		unsigned b = 0;

		OK(upk_selector_bucket(f->fl.devid[i], salt, &b, &e_));
		if ((int64_t)b < percent_bp && !(skip & (1u << i)))
			mask |= 1u << i;
	}
	return mask;
}

static void report_all(struct fx *f, unsigned mask, const int64_t deps[], const char *state)
{
	for (size_t i = 0; i < f->fl.n_dev; i++)
		if (mask & (1u << i))
			tf_report(&f->fl, i, deps[i], state);
}

static int audit_has(struct fx *f, const char *action)
{
	json_t *j = get(f, "/audit?limit=1000");
	char *dump = json_dumps(j, 0);
	int has = strstr(dump, action) != NULL;

	free(dump);
	json_decref(j);
	return has;
}

static void test_phases(void **state)
{
	struct fx fx, *f = &fx;
	int64_t deps[TF_MAX_DEVICES] = {0}, id, phase = -1;
	unsigned m0, m1, all;
	json_t *j;

	(void)state;
	fx_init(f);
	fx_start(f);
	tf_create(&f->fl, f->srv->port, f->work, "acme", f->creator, TARGETS, 4);
	tf_add_devices(&f->fl, 20, "berlin");
	all = (1u << 20) - 1;

	/* Refused: not signed by the owner / not a phase plan. */
	json_decref(post(f, "{\"target\":\"images/none.img\",\"phases\":[{\"percent\":100}]}",
			 404, "/rollouts"));
	json_decref(post(f, "{\"target\":\"images/fw-2.0.img\",\"phases\":[]}", 400, "/rollouts"));

	id = create_rollout(f, "{\"target\":\"images/fw-2.0.img\",\"name\":\"spring\",\"phases\":["
			       "{\"percent\":10,\"soak\":3600},{\"percent\":50,\"soak\":3600},"
			       "{\"percent\":100,\"soak\":0}],\"failure_threshold\":50}");
	m0 = rollout_devices(f, id, deps);
	assert_int_equal(m0, expected(f, id, 1000, 0));
	assert_string_equal(rollout_state(f, id, &phase), "running");
	assert_int_equal(phase, 0);
	/* The phase succeeds, but its soak time has not passed: no advance. */
	report_all(f, m0, deps, "success");
	OK(server_maintain(f->srv, server_clock(f->srv), &e_));
	assert_string_equal(rollout_state(f, id, &phase), "running");
	assert_int_equal(phase, 0);
	assert_int_equal(rollout_devices(f, id, NULL), m0);
	/* An hour later: phase 2 of 3, half the fleet. */
	pass_time(f, 3601);
	assert_string_equal(rollout_state(f, id, &phase), "running");
	assert_int_equal(phase, 1);
	m1 = rollout_devices(f, id, deps);
	assert_int_equal(m1, expected(f, id, 5000, 0));
	assert_true(audit_has(f, "rollout.advance"));

	/* Paused: soak passes, successes come in, nothing moves. */
	json_decref(post(f, NULL, 200, "/rollouts/%lld/pause", (long long)id));
	json_decref(post(f, NULL, 409, "/rollouts/%lld/pause", (long long)id));
	report_all(f, m1 & ~m0, deps, "success");
	pass_time(f, 7200);
	assert_string_equal(rollout_state(f, id, &phase), "paused");
	assert_int_equal(phase, 1);
	assert_int_equal(rollout_devices(f, id, NULL), m1);
	/* Resumed: the soak time passed and the ratio is met, so the last phase starts. */
	j = post(f, NULL, 200, "/rollouts/%lld/resume", (long long)id);
	assert_int_equal(json_integer_value(json_object_get(j, "phase")), 2);
	json_decref(j);
	assert_int_equal(rollout_devices(f, id, deps), all);
	/* Reports of the last devices complete it (soak 0): driven by the reports alone. */
	report_all(f, all & ~m1, deps, "installing");
	assert_string_equal(rollout_state(f, id, NULL), "running");
	report_all(f, all & ~m1, deps, "success");
	assert_string_equal(rollout_state(f, id, &phase), "completed");
	j = get(f, "/rollouts/%lld", (long long)id);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "counts"), "success")),
			 20);
	assert_int_equal(json_integer_value(json_object_get(j, "failure_threshold")), 50);
	json_decref(j);
	json_decref(post(f, NULL, 409, "/rollouts/%lld/resume", (long long)id));
	json_decref(post(f, NULL, 409, "/rollouts/%lld/abort", (long long)id));
	/* Per-device history names the rollout. */
	{
		char p[256];

		snprintf(p, sizeof(p), "/devices/%s/deployments", f->fl.devid[0]);
		j = get(f, "%s", p);
		assert_int_equal(json_integer_value(json_object_get(
					 json_array_get(json_object_get(j, "deployments"), 0),
					 "rollout_id")),
				 id);
		json_decref(j);
	}
	for (size_t i = 0; i < 5; i++) {
		static const char *const A[] = {"rollout.create", "rollout.pause", "rollout.resume",
						"rollout.complete", "device.assign"};

		if (!audit_has(f, A[i]))
			fail_msg("audit lacks %s", A[i]);
	}
	server_stop(f->srv);
	fx_done(f);
}

static void test_halt_pin_abort(void **state)
{
	struct fx fx, *f = &fx;
	int64_t deps[TF_MAX_DEVICES] = {0}, id, id3;
	unsigned m0, all, failed = 0, nf = 0, n0 = 0, m3;
	char p[512];
	json_t *j;

	(void)state;
	fx_init(f);
	fx_start(f);
	tf_create(&f->fl, f->srv->port, f->work, "acme", f->creator, TARGETS, 4);
	tf_add_devices(&f->fl, 16, "berlin");
	tf_add_devices(&f->fl, 4, "paris");
	all = (1u << 20) - 1;

	/* The owner-signed selector always applies: only Paris takes fw-paris. */
	id = create_rollout(f, "{\"target\":\"images/fw-paris.img\",\"phases\":[{\"percent\":100}]}");
	assert_int_equal(rollout_devices(f, id, NULL), expected(f, id, 10000, 0xffffu));
	/* A rollout selector narrows further (never widens). */
	id = create_rollout(f, "{\"target\":\"images/fw-2.0.img\",\"selector\":\"tag \\\"site\\\" = "
			       "\\\"paris\\\" and bucket < 50\",\"phases\":[{\"percent\":100}]}");
	{
		unsigned want = 0;

		for (size_t i = 16; i < 20; i++) {
			unsigned b = 0;

			OK(upk_selector_bucket(f->fl.devid[i], NULL, &b, &e_));
			if (b < 5000)
				want |= 1u << i;
		}
		assert_int_equal(rollout_devices(f, id, NULL), want);
	}

	/* Device 0 is pinned: rollouts pass it by until it is unpinned. */
	snprintf(p, sizeof(p), "/v1/fleets/acme/devices/%s/pin", f->fl.devid[0]);
	json_decref(tu_srv_expect(f->fl.port, "PUT", p, f->creator,
				  "{\"target\":\"images/fw-paris.img\"}", 400)); /* not admitted */
	json_decref(tu_srv_expect(f->fl.port, "PUT", p, f->creator,
				  "{\"target\":\"images/fw-2.0.img\"}", 200));

	/* A failing first phase halts the rollout by itself. */
	/*
	 * 60 % of 20 devices whose buckets depend on the random rollout id: at
	 * least 3 land in the first phase except with probability ~1e-5 (40 %
	 * failed about one run in 300).
	 */
	id = create_rollout(f, "{\"target\":\"images/fw-3.0.img\",\"phases\":[{\"percent\":60,"
			       "\"soak\":600},{\"percent\":100}],\"failure_threshold\":20}");
	m0 = rollout_devices(f, id, deps);
	assert_int_equal(m0, expected(f, id, 6000, 1u));
	for (size_t i = 0; i < 20; i++)
		n0 += (m0 >> i) & 1u;
	assert_true(n0 >= 3); /* with these 20 ids; a failure count below needs some */
	/* Failures up to the threshold do not halt ... */
	for (size_t i = 0; i < 20 && (nf + 1) * 10000 <= 2000u * n0; i++) {
		if (!(m0 & (1u << i)))
			continue;
		tf_report(&f->fl, i, deps[i], "failure");
		failed |= 1u << i;
		nf++;
	}
	assert_string_equal(rollout_state(f, id, NULL), "running");
	/* ... one more does. */
	for (size_t i = 0; i < 20; i++) {
		if ((m0 & (1u << i)) && !(failed & (1u << i))) {
			tf_report(&f->fl, i, deps[i], "failure");
			break;
		}
	}
	assert_string_equal(rollout_state(f, id, NULL), "halted");
	j = get(f, "/rollouts/%lld", (long long)id);
	assert_non_null(strstr(json_string_value(json_object_get(j, "reason")), "failure threshold"));
	json_decref(j);
	assert_true(audit_has(f, "rollout.halt"));
	/* Successes, days passing and maintenance passes: the rest never get it. */
	for (size_t i = 0; i < 20; i++)
		if ((m0 & (1u << i)) && !(failed & (1u << i)))
			tf_report(&f->fl, i, deps[i], "success");
	pass_time(f, 10 * 86400);
	assert_string_equal(rollout_state(f, id, NULL), "halted");
	assert_int_equal(rollout_devices(f, id, NULL), m0);
	for (size_t i = 0; i < 20; i++) {
		json_t *d;
		size_t k;

		if (m0 & (1u << i))
			continue;
		snprintf(p, sizeof(p), "/devices/%s/deployments", f->fl.devid[i]);
		j = get(f, "%s", p);
		json_array_foreach(json_object_get(j, "deployments"), k, d)
			assert_int_not_equal(json_integer_value(json_object_get(d, "rollout_id")), id);
		json_decref(j);
	}
	json_decref(post(f, NULL, 409, "/rollouts/%lld/resume", (long long)id));
	json_decref(post(f, NULL, 409, "/rollouts/%lld/pause", (long long)id));

	/* Abort withdraws what no device started on; the pinned device is never touched. */
	id3 = create_rollout(f, "{\"target\":\"images/fw-4.0.img\",\"phases\":[{\"percent\":100}]}");
	m3 = rollout_devices(f, id3, deps);
	assert_int_equal(m3, all & ~1u);
	tf_report(&f->fl, 1, deps[1], "downloading");
	j = post(f, NULL, 200, "/rollouts/%lld/abort", (long long)id3);
	assert_string_equal(json_string_value(json_object_get(j, "state")), "aborted");
	json_decref(j);
	for (size_t i = 1; i < 20; i++) {
		snprintf(p, sizeof(p), "/devices/%s", f->fl.devid[i]);
		j = get(f, "%s", p);
		{
			json_t *a = json_array_get(json_object_get(j, "assignments"), 0);
			int still = a != NULL && strcmp(json_string_value(json_object_get(a, "target")),
						      "images/fw-4.0.img") == 0;

			/* Only device 1 had started: it keeps its assignment. */
			assert_int_equal(still, i == 1);
		}
		json_decref(j);
	}
	snprintf(p, sizeof(p), "/devices/%s", f->fl.devid[0]);
	j = get(f, "%s", p);
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(json_object_get(j, "assignments"), 0), "target")),
			    "images/fw-2.0.img");
	assert_int_equal(json_array_size(json_object_get(j, "pins")), 1);
	json_decref(j);
	/* Unpinned, the next rollout takes it too. */
	snprintf(p, sizeof(p), "/v1/fleets/acme/devices/%s/pin/image", f->fl.devid[0]);
	json_decref(tu_srv_expect(f->fl.port, "DELETE", p, f->creator, NULL, 200));
	json_decref(tu_srv_expect(f->fl.port, "DELETE", p, f->creator, NULL, 404));
	id = create_rollout(f, "{\"target\":\"images/fw-4.0.img\",\"phases\":[{\"percent\":100}]}");
	assert_int_equal(rollout_devices(f, id, NULL), all);
	j = get(f, "/rollouts");
	assert_int_equal(json_array_size(json_object_get(j, "rollouts")), 5);
	json_decref(j);
	assert_true(audit_has(f, "device.pin"));
	assert_true(audit_has(f, "device.unpin"));
	assert_true(audit_has(f, "rollout.abort"));
	/* Viewer rights suffice to look, not to act; other fleets see nothing. */
	json_decref(tu_srv_expect(f->fl.port, "POST", "/v1/fleets/acme/rollouts/1/pause",
				  f->fl.dev[0], NULL, 401));
	server_stop(f->srv);
	fx_done(f);
}

/* ---- durability: SIGKILL in the middle of a rollout ---- */

static pid_t spawn(struct fx *f, const char *log, unsigned *port)
{
	struct tf_server s = fx_server(f);

	return tf_spawn(&s, log, port);
}

static void test_sigkill(void **state)
{
	struct fx fx, *f = &fx;
	int64_t deps[TF_MAX_DEVICES] = {0}, id, phase = -1;
	unsigned port = 0, m0, all, acked = 0, n0 = 0;
	char log[4200];
	pid_t pid;
	json_t *j;

	(void)state;
	fx_init(f);
	snprintf(log, sizeof(log), "%s/run1.log", f->tmp);
	pid = spawn(f, log, &port);
	tf_create(&f->fl, port, f->work, "acme", f->creator, TARGETS, 1);
	tf_add_devices(&f->fl, 12, "berlin");
	all = (1u << 12) - 1;
	{
		json_t *r = tu_srv_expect(port, "POST", "/v1/fleets/acme/rollouts", f->creator,
					  "{\"target\":\"images/fw-2.0.img\",\"phases\":[{\"percent\""
					  ":50},{\"percent\":100}],\"failure_threshold\":10}",
					  201);

		id = json_integer_value(json_object_get(r, "id"));
		json_decref(r);
	}
	m0 = rollout_devices(f, id, deps);
	assert_int_equal(m0, expected(f, id, 5000, 0));
	/* Some phase-1 devices report (not all); every 200 is an acknowledged report. */
	for (size_t i = 0; i < 12; i++)
		n0 += (m0 >> i) & 1u;
	assert_true(n0 >= 2);
	for (size_t i = 0, n = 0; i < 12 && n < 3 && n + 1 < n0; i++) {
		if (!(m0 & (1u << i)))
			continue;
		tf_report(&f->fl, i, deps[i], "success");
		acked |= 1u << i;
		n++;
	}
	/* Killed right after the last acknowledgement: no shutdown, no checkpoint. */
	tf_stop(pid, SIGKILL);

	snprintf(log, sizeof(log), "%s/run2.log", f->tmp);
	pid = spawn(f, log, &port);
	f->fl.port = port;
	/* Every acknowledged report is there. */
	for (size_t i = 0; i < 12; i++) {
		char p[512];

		if (!(acked & (1u << i)))
			continue;
		snprintf(p, sizeof(p), "/devices/%s/deployments", f->fl.devid[i]);
		j = get(f, "%s", p);
		assert_string_equal(json_string_value(json_object_get(
					    json_array_get(json_object_get(j, "deployments"), 0),
					    "state")),
				    "success");
		json_decref(j);
	}
	assert_string_equal(rollout_state(f, id, &phase), "running");
	assert_int_equal(phase, 0);
	/* The rollout continues: the other reports move it to the end. */
	report_all(f, m0 & ~acked, deps, "success");
	assert_string_equal(rollout_state(f, id, &phase), "running");
	assert_int_equal(phase, 1);
	assert_int_equal(rollout_devices(f, id, deps), all);
	report_all(f, all & ~m0, deps, "success");
	assert_string_equal(rollout_state(f, id, NULL), "completed");
	tf_stop(pid, SIGTERM);
	fx_done(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_phases),
		cmocka_unit_test(test_halt_pin_abort),
		cmocka_unit_test_teardown(test_sigkill, tf_kill_spawned),
	};

	curl_global_init(CURL_GLOBAL_DEFAULT);
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
