/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Ownership transfer on the server (POST /v1/transfers, docs/ownership.md)
 * on loopback with a real SQLite file, real signatures and transfer roots
 * made and signed with the real `upkeep` tool: a sale (new fleet serving the
 * whole chain byte for byte, devices accepted there with their inventory,
 * the old fleet answering moved_to, the seller locked out of the device and
 * of the new fleet, the device leaving a running rollout, the buyer
 * assigning its own release); every refusal leaving the database file and
 * the served files byte for byte as they were; a resale to a third owner;
 * and the real binary killed with SIGKILL right after a 201.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "tu_fleet.h"
#include "tu_server.h"

#include "api_parse.h"
#include "upkeep/transfer.h"

static const struct tf_target TARGETS[] = {
	{"images/fw-2.0.img", "2.0.0", 2, NULL},
};

/* ---- the parsers ---- */

static void test_parse(void **state)
{
	static const char DEV_A[] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	static const char DEV_B[] = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
	static const char ID[] = "9f1c0d2e4b6a8c0e9f1c0d2e4b6a8c0e";
	char good[1024];
	const char *bad_bodies[] = {
		"{\"keyset\":\"x\",\"image_root\":{},\"director_root\":{}}",
		"{\"keyset\":\"0123456789abcdef0123456789abcdef\",\"image_root\":{}}",
		"{\"keyset\":\"0123456789abcdef0123456789abcdef\",\"image_root\":1,\"director_root\":{}}",
		"{\"keyset\":\"0123456789abcdef0123456789abcdef\",\"image_root\":{},\"director_root\":{},"
		"\"extra\":1}",
		"[]",
	};
	char bad_records[8][1024];
	struct transfer_req tr;
	struct upk_transfer_record rec;
	struct upk_error err = {0};
	json_t *signed_;

	(void)state;
	snprintf(good, sizeof(good),
		 "{\"keyset\":\"0123456789abcdef0123456789abcdef\",\"image_root\":{\"signed\":{}},"
		 "\"director_root\":{\"signed\":{}}}");
	if (parse_transfer(good, strlen(good), &tr, &err) != UPK_OK)
		fail_msg("%s", err.msg);
	assert_string_equal(tr.keyset, "0123456789abcdef0123456789abcdef");
	assert_true(json_is_object(tr.image_root));
	transfer_req_clear(&tr);
	for (size_t i = 0; i < sizeof(bad_bodies) / sizeof(bad_bodies[0]); i++) {
		if (parse_transfer(bad_bodies[i], strlen(bad_bodies[i]), &tr, &err) == UPK_OK)
			fail_msg("accepted: %s", bad_bodies[i]);
		assert_true(err.msg[0] != '\0');
	}

	snprintf(good, sizeof(good),
		 "{\"upkeep_transfer\":{\"id\":\"%s\",\"from_fleet\":\"acme\",\"to_fleet\":"
		 "\"bob-home\",\"devices\":[\"%s\",\"%s\"]}}",
		 ID, DEV_A, DEV_B);
	signed_ = json_loads(good, 0, NULL);
	if (upk_transfer_record_parse(signed_, &rec, &err) != UPK_OK)
		fail_msg("%s", err.msg);
	assert_string_equal(rec.id, ID);
	assert_string_equal(rec.to_fleet, "bob-home");
	assert_int_equal(json_array_size(rec.devices), 2);
	upk_transfer_record_clear(&rec);
	json_decref(signed_);
	signed_ = json_object();
	assert_int_equal(upk_transfer_record_parse(signed_, &rec, &err), UPK_ERR_NOT_FOUND);
	json_decref(signed_);

#define REC(i, ...) snprintf(bad_records[i], sizeof(bad_records[i]), __VA_ARGS__)
	REC(0, "{\"upkeep_transfer\":{\"id\":\"%s\",\"from_fleet\":\"acme\",\"to_fleet\":\"b\","
	       "\"devices\":[\"%s\",\"%s\"]}}", ID, DEV_B, DEV_A); /* unsorted */
	REC(1, "{\"upkeep_transfer\":{\"id\":\"%s\",\"from_fleet\":\"acme\",\"to_fleet\":\"b\","
	       "\"devices\":[\"%s\",\"%s\"]}}", ID, DEV_A, DEV_A); /* twice */
	REC(2, "{\"upkeep_transfer\":{\"id\":\"%s\",\"from_fleet\":\"acme\",\"to_fleet\":\"b\","
	       "\"devices\":[]}}", ID);
	REC(3, "{\"upkeep_transfer\":{\"id\":\"9F1C0D2E4B6A8C0E9F1C0D2E4B6A8C0E\",\"from_fleet\":"
	       "\"acme\",\"to_fleet\":\"b\",\"devices\":[\"%s\"]}}", DEV_A);
	REC(4, "{\"upkeep_transfer\":{\"id\":\"%s\",\"from_fleet\":\"Acme\",\"to_fleet\":\"b\","
	       "\"devices\":[\"%s\"]}}", ID, DEV_A);
	REC(5, "{\"upkeep_transfer\":{\"id\":\"%s\",\"from_fleet\":\"acme\",\"to_fleet\":\"acme\","
	       "\"devices\":[\"%s\"]}}", ID, DEV_A);
	REC(6, "{\"upkeep_transfer\":{\"id\":\"%s\",\"from_fleet\":\"acme\",\"to_fleet\":\"b\","
	       "\"devices\":[\"%s\"],\"more\":1}}", ID, DEV_A);
	REC(7, "{\"upkeep_transfer\":{\"id\":\"%s\",\"from_fleet\":\"acme\",\"to_fleet\":\"b\","
	       "\"devices\":[\"%.63s\"]}}", ID, DEV_A);
#undef REC
	for (size_t i = 0; i < 8; i++) {
		signed_ = json_loads(bad_records[i], 0, NULL);
		assert_non_null(signed_);
		if (upk_transfer_record_parse(signed_, &rec, &err) == UPK_OK)
			fail_msg("accepted record %zu: %s", i, bad_records[i]);
		assert_true(strstr(err.msg, "upkeep_transfer") != NULL);
		json_decref(signed_);
	}
}

/* ---- the server ---- */

struct fx {
	char *tmp;
	char work[4200], db[4200], data[4200], seller_pub[4200], buyer_pub[4200];
	struct upk_key *seller; /* creator of the seller's fleet */
	struct upk_key *buyer;  /* creator of the buyer's key set and fleet */
	struct server *srv;
	unsigned port;
	struct tfleet fl; /* acme, the seller's */
};

static struct tf_server fx_server(struct fx *f)
{
	struct tf_server s = {.db = f->db, .data = f->data, .n_creators = 2};

	s.creators[0] = f->seller_pub;
	s.creators[1] = f->buyer_pub;
	return s;
}

static void fx_start(struct fx *f)
{
	struct tf_server s = fx_server(f);

	f->srv = tf_server_start(&s);
	f->port = f->srv->port;
}

static void fx_init(struct fx *f)
{
	memset(f, 0, sizeof(*f));
	f->tmp = tu_mkdtemp();
	snprintf(f->work, sizeof(f->work), "%s/work", f->tmp);
	snprintf(f->db, sizeof(f->db), "%s/server.db", f->tmp);
	snprintf(f->data, sizeof(f->data), "%s/data", f->tmp);
	snprintf(f->seller_pub, sizeof(f->seller_pub), "%s/seller.pub", f->tmp);
	snprintf(f->buyer_pub, sizeof(f->buyer_pub), "%s/buyer.pub", f->tmp);
	mkdir(f->work, 0700);
	OK(upk_key_generate_ed25519(&f->seller, &e_));
	OK(upk_keyfile_write_public(f->seller_pub, f->seller, &e_));
	OK(upk_key_generate_ed25519(&f->buyer, &e_));
	OK(upk_keyfile_write_public(f->buyer_pub, f->buyer, &e_));
}

static void fx_done(struct fx *f)
{
	tf_free(&f->fl);
	upk_key_free(f->seller);
	upk_key_free(f->buyer);
	tu_rmtree(f->tmp);
	free(f->tmp);
}

/* Run the owner tool in the seller's directory. */
static void cli(struct fx *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void cli(struct fx *f, const char *fmt, ...)
{
	char args[6000], cmd[8000];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd), "%s/cli/upkeep %s", tf_build_dir(), args);
	tf_run(f->fl.dir, cmd);
}

/* A key set of creator written as DIR/keyset.json (what `upkeep fleet keyset` writes). */
static void keyset(struct fx *f, const struct upk_key *creator, const char *dir)
{
	json_t *ks = tu_srv_expect(f->port, "POST", "/v1/keysets", creator, NULL, 201);
	char path[4400];

	snprintf(path, sizeof(path), "%s/%s", f->fl.dir, dir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/%s/keyset.json", f->fl.dir, dir);
	assert_int_equal(json_dump_file(ks, path, JSON_INDENT(2)), 0);
	json_decref(ks);
}

/*
 * A transfer of the given devices (already "--device ID" arguments) from
 * `from` (staging areas IMG, DIR) to `to`, naming root keys b1, b2 (2 of 2)
 * and targets key bt of the buyer and key set KS.
 */
static void sale(struct fx *f, const char *out, const char *img, const char *dir,
		 const char *from, const char *to, const char *devices, const char *ks,
		 const char *extra)
{
	cli(f,
	    "transfer create --image %s --director %s --from-fleet %s --to-fleet %s %s "
	    "--root-key b1.pub --root-key b2.pub --root-threshold 2 --targets-key bt.pub "
	    "--keyset %s/keyset.json --out %s %s",
	    img, dir, from, to, devices, ks, out, extra);
}

/* Sign both roots of a transfer with the given key files. */
static void sign(struct fx *f, const char *out, const char *image_key, const char *director_key)
{
	cli(f, "sign --file %s/image-root.json --key %s", out, image_key);
	cli(f, "sign --file %s/director-root.json --key %s", out, director_key);
}

/* The request body from TDIR files (image root of one, director root of another). */
static char *body_of(struct fx *f, const char *image_dir, const char *director_dir,
		     const char *ks)
{
	char p[4400];
	json_t *ir, *dr, *k, *b;
	char *text;

	snprintf(p, sizeof(p), "%s/%s/image-root.json", f->fl.dir, image_dir);
	ir = json_load_file(p, 0, NULL);
	snprintf(p, sizeof(p), "%s/%s/director-root.json", f->fl.dir, director_dir);
	dr = json_load_file(p, 0, NULL);
	snprintf(p, sizeof(p), "%s/%s/keyset.json", f->fl.dir, ks);
	k = json_load_file(p, 0, NULL);
	assert_non_null(ir);
	assert_non_null(dr);
	assert_non_null(k);
	b = json_pack("{s:O, s:o, s:o}", "keyset", json_object_get(k, "keyset"), "image_root", ir,
		      "director_root", dr);
	text = json_dumps(b, JSON_COMPACT);
	json_decref(b);
	json_decref(k);
	return text;
}

static char *snapshot_files(struct fx *f, size_t *len)
{
	char p[4400], *a, *b, *all;
	size_t al = 0, bl = 0;

	/* The seen-writer must have nothing pending: no check-in happens in between. */
	a = tu_read_file(f->db, &al);
	snprintf(p, sizeof(p), "%s-wal", f->db);
	b = tu_read_file(p, &bl);
	assert_non_null(a);
	all = malloc(al + bl + 1);
	assert_non_null(all);
	memcpy(all, a, al);
	if (b != NULL)
		memcpy(all + al, b, bl);
	*len = al + bl;
	free(a);
	free(b);
	return all;
}

/*
 * Submit and expect a refusal with status and a message containing want;
 * the database (main file and WAL) must be byte for byte what it was, and
 * the new fleet must not exist.
 */
static void refused(struct fx *f, const char *body, const struct upk_key *who, long status,
		    const char *want, const char *to)
{
	size_t l0, l1;
	char *before = snapshot_files(f, &l0), *after, path[256];
	struct tresp r;
	json_t *j;

	tu_srv_call(f->port, "POST", "/v1/transfers", who, body, &r);
	if (r.status != status || r.body == NULL || strstr(r.body, want) == NULL)
		fail_msg("expected %ld with \"%s\", got %ld: %s", status, want, r.status,
			 r.body ? r.body : "");
	assert_non_null(strstr(json_string_value(json_object_get(r.json, "message")),
			       "transfer refused: "));
	tresp_clear(&r);
	after = snapshot_files(f, &l1);
	assert_int_equal(l0, l1);
	assert_memory_equal(before, after, l0);
	free(before);
	free(after);
	snprintf(path, sizeof(path), "/v1/fleets/%s/image/metadata/root.json", to);
	j = tu_srv_expect(f->port, "GET", path, NULL, NULL, 404);
	json_decref(j);
}

/* GET path unsigned, 200, its bytes. */
static char *public_get(unsigned port, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *public_get(unsigned port, const char *fmt, ...)
{
	char path[600];
	struct tresp r;
	va_list ap;
	char *b;

	va_start(ap, fmt);
	vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	tu_srv_call(port, "GET", path, NULL, NULL, &r);
	if (r.status != 200)
		fail_msg("GET %s: %ld", path, r.status);
	b = r.body;
	r.body = NULL;
	tresp_clear(&r);
	return b;
}

/* Both repositories of `to` serve versions 1..n-1 as `from` does, byte for byte. */
static void same_chain(unsigned port, const char *from, const char *to, int64_t n)
{
	for (int k = 0; k < 2; k++) {
		const char *repo = k == 0 ? "image" : "director/x";

		for (int64_t v = 1; v < n; v++) {
			char *a, *b;

			if (k == 0) {
				a = public_get(port, "/v1/fleets/%s/image/metadata/%lld.root.json", from,
					       (long long)v);
				b = public_get(port, "/v1/fleets/%s/image/metadata/%lld.root.json", to,
					       (long long)v);
			} else {
				/* Director roots are fleet-wide: any device segment serves them. */
				a = public_get(port,
					       "/v1/fleets/%s/director/%064d/metadata/%lld.root.json",
					       from, 0, (long long)v);
				b = public_get(port,
					       "/v1/fleets/%s/director/%064d/metadata/%lld.root.json",
					       to, 0, (long long)v);
			}
			if (strcmp(a, b) != 0)
				fail_msg("%s root v%lld of %s differs from %s's", repo, (long long)v,
					 to, from);
			free(a);
			free(b);
		}
	}
}

static const char *audit_has(struct fx *f, const struct upk_key *key, const char *fleet,
			     const char *action, const char *transfer)
{
	char path[256];
	json_t *j, *row;
	size_t i;
	const char *found = NULL;

	snprintf(path, sizeof(path), "/v1/fleets/%s/audit", fleet);
	j = tu_srv_expect(f->port, "GET", path, key, NULL, 200);
	json_array_foreach(json_object_get(j, "entries"), i, row) {
		const json_t *d = json_object_get(row, "detail");

		if (strcmp(json_string_value(json_object_get(row, "action")), action) == 0 &&
		    strcmp(json_string_value(json_object_get(d, "transfer")), transfer) == 0)
			found = action;
	}
	json_decref(j);
	return found;
}

static void device_status(struct fx *f, const struct upk_key *key, const char *fleet,
			  const char *dev, const char *status, const char *moved_to)
{
	char path[256];
	json_t *j;

	snprintf(path, sizeof(path), "/v1/fleets/%s/devices/%s", fleet, dev);
	j = tu_srv_expect(f->port, "GET", path, key, NULL, 200);
	assert_string_equal(json_string_value(json_object_get(j, "status")), status);
	if (moved_to != NULL)
		assert_string_equal(json_string_value(json_object_get(j, "moved_to")), moved_to);
	else
		assert_true(json_is_null(json_object_get(j, "moved_to")));
	json_decref(j);
}

/* A device's check-in (or enrolment) in fleet answered with moved_to. */
static void moved(struct fx *f, size_t i, const char *fleet, const char *to)
{
	char path[256], want[128], *text;
	json_t *j, *tuf = NULL, *b;
	struct upk_error e = {0};

	snprintf(want, sizeof(want), "/v1/fleets/%s", to);
	snprintf(path, sizeof(path), "/v1/fleets/%s/checkin", fleet);
	j = tu_srv_expect(f->port, "POST", path, f->fl.dev[i], "{\"free_space\":5}", 200);
	assert_string_equal(json_string_value(json_object_get(j, "status")), "transferred");
	assert_string_equal(json_string_value(json_object_get(j, "moved_to")), want);
	assert_null(json_object_get(j, "urls"));
	assert_null(json_object_get(j, "deployments"));
	json_decref(j);
	assert_int_equal(upk_key_to_tuf(f->fl.dev[i], &tuf, &e), UPK_OK);
	b = json_pack("{s:o, s:s}", "public_key", tuf, "hardware_id", "hw-a");
	text = json_dumps(b, JSON_COMPACT);
	snprintf(path, sizeof(path), "/v1/fleets/%s/enrol", fleet);
	j = tu_srv_expect(f->port, "POST", path, f->fl.dev[i], text, 200);
	assert_string_equal(json_string_value(json_object_get(j, "moved_to")), want);
	assert_null(json_object_get(j, "urls"));
	json_decref(j);
	free(text);
	json_decref(b);
}

/* An owner request on device i of fleet refused 409 naming `to`. */
static void locked(struct fx *f, const char *method, const char *fleet, size_t i,
		   const char *tail, const char *body, const char *to)
{
	char path[512];
	struct tresp r;

	snprintf(path, sizeof(path), "/v1/fleets/%s/devices/%s%s", fleet, f->fl.devid[i], tail);
	tu_srv_call(f->port, method, path, f->seller, body, &r);
	if (r.status != 409 || strstr(r.body, to) == NULL)
		fail_msg("%s %s: expected 409 naming %s, got %ld: %s", method, path, to, r.status,
			 r.body ? r.body : "");
	tresp_clear(&r);
}

static void test_sale_refusals_resale(void **state)
{
	struct fx fx, *f = &fx;
	char *body, *body2, path[512];
	json_t *j, *d;
	int64_t rollout = 0;
	size_t i;

	(void)state;
	fx_init(f);
	fx_start(f);
	tf_create(&f->fl, f->port, f->work, "acme", f->seller, TARGETS, 1);
	tf_add_devices(&f->fl, 3, "berlin");
	/* Device 0 reports an inventory and is in a running rollout with the others. */
	snprintf(path, sizeof(path), "/v1/fleets/acme/checkin");
	json_decref(tu_srv_expect(f->port, "POST", path, f->fl.dev[0],
				  "{\"installed\":{\"os\":\"1.0.0\"},\"free_space\":7}", 200));
	j = tu_srv_expect(f->port, "POST", "/v1/fleets/acme/rollouts", f->seller,
			  "{\"target\":\"images/fw-2.0.img\",\"phases\":[{\"percent\":100}],"
			  "\"failure_threshold\":0}",
			  201);
	rollout = json_integer_value(json_object_get(j, "id"));
	json_decref(j);
	/* The seller's published chain: v1, then a rotation to v2 (N = 2 when sold). */
	cli(f, "key generate b1 --no-passphrase");
	cli(f, "key generate b2 --no-passphrase");
	cli(f, "key generate bt --no-passphrase");
	cli(f, "key generate c1 --no-passphrase");
	tf_run(f->fl.dir, "mkdir -p img/published dir/published && "
			  "cp img/staged/root.json img/published/1.root.json && "
			  "cp dir/staged/root.json dir/published/1.root.json");
	keyset(f, f->buyer, "bks");
	{
		char dev[300];

		snprintf(dev, sizeof(dev), "--device %s", f->fl.devid[0]);
		/* Made at N = 1, submitted after the rotation: not N+1 any more. */
		sale(f, "early", "img", "dir", "acme", "bob", dev, "bks", "");
		sign(f, "early", "r1.key", "d1.key");
		sign(f, "early", "b1.key", "b1.key");
		sign(f, "early", "b2.key", "b2.key");
		cli(f, "root rotate img");
		cli(f, "sign img root --key r1.key");
		cli(f, "root rotate dir");
		cli(f, "sign dir root --key d1.key");
		body = tf_text(f->fl.dir, "img/staged/root.json");
		json_decref(tu_srv_expect(f->port, "PUT", "/v1/fleets/acme/image/metadata/root",
					  f->seller, body, 200));
		free(body);
		body = tf_text(f->fl.dir, "dir/staged/root.json");
		json_decref(tu_srv_expect(f->port, "PUT", "/v1/fleets/acme/director/metadata/root",
					  f->seller, body, 200));
		free(body);
		tf_run(f->fl.dir, "cp img/staged/root.json img/published/2.root.json && "
				  "cp dir/staged/root.json dir/published/2.root.json");

		sale(f, "expiring", "img", "dir", "acme", "bob", dev, "bks", "--expires 2s");
		sign(f, "expiring", "r1.key", "d1.key");
		sign(f, "expiring", "b1.key", "b1.key");
		sign(f, "expiring", "b2.key", "b2.key");

		sale(f, "sold", "img", "dir", "acme", "bob", dev, "bks", "");
		snprintf(dev, sizeof(dev), "--device %s --device %s", f->fl.devid[0], f->fl.devid[1]);
		sale(f, "other", "img", "dir", "acme", "bob", dev, "bks", "");
		sign(f, "other", "r1.key", "d1.key");
		sign(f, "other", "b1.key", "b1.key");
		sign(f, "other", "b2.key", "b2.key");
		sale(f, "stranger", "img", "dir", "acme", "bob",
		     "--device 00000000000000000000000000000000000000000000000000000000000000ff",
		     "bks", "");
		sign(f, "stranger", "r1.key", "d1.key");
		sign(f, "stranger", "b1.key", "b1.key");
		sign(f, "stranger", "b2.key", "b2.key");
		snprintf(dev, sizeof(dev), "--device %s", f->fl.devid[0]);
		sale(f, "taken", "img", "dir", "acme", "acme-two", dev, "bks", "");
		sign(f, "taken", "r1.key", "d1.key");
		sign(f, "taken", "b1.key", "b1.key");
		sign(f, "taken", "b2.key", "b2.key");
	}

	/* Only the buyer signed: the seller's threshold of root v2 is missing. */
	sign(f, "sold", "b1.key", "b1.key");
	sign(f, "sold", "b2.key", "b2.key");
	body = body_of(f, "sold", "sold", "bks");
	refused(f, body, f->buyer, 422, "image_root: root v3, keys of trusted root v2", "bob");
	free(body);
	/* Then only the seller (a fresh copy): the buyer's own threshold is missing. */
	tf_run(f->fl.dir, "mkdir seller-only && cp sold/*.json seller-only/ && "
			  "for f in image-root director-root; do python3 -c \"import json,sys; "
			  "d=json.load(open(sys.argv[1])); d['signatures']=[]; "
			  "json.dump(d, open(sys.argv[1], 'w'))\" seller-only/$f.json; done");
	sign(f, "seller-only", "r1.key", "d1.key");
	sign(f, "seller-only", "b1.key", "b1.key");
	body = body_of(f, "seller-only", "seller-only", "bks");
	refused(f, body, f->buyer, 422, "image_root: root v3, its own root keys: root v3: signature threshold 2 not met: 1 valid",
		"bob");
	free(body);
	/* Both thresholds, but the director root's record names other devices. */
	sign(f, "sold", "r1.key", "d1.key");
	body = body_of(f, "sold", "other", "bks");
	refused(f, body, f->buyer, 400, "records of image_root and director_root differ", "bob");
	free(body);
	body = body_of(f, "early", "early", "bks");
	refused(f, body, f->buyer, 422, "root v2 is not newer than the trusted root v2", "bob");
	free(body);
	body = body_of(f, "stranger", "stranger", "bks");
	refused(f, body, f->buyer, 404, "is not in fleet acme", "bob");
	free(body);
	/* The key set is the buyer's: the seller (another creator) cannot use it. */
	body = body_of(f, "sold", "sold", "bks");
	refused(f, body, f->seller, 404, "key set", "bob");
	free(body);
	{
		struct tfleet other;

		tf_create(&other, f->port, f->work, "acme-two", f->buyer, NULL, 0);
		body = body_of(f, "taken", "taken", "bks");
		refused(f, body, f->buyer, 409, "to_fleet acme-two already exists", "no-such");
		free(body);
		tf_free(&other);
	}
	body = body_of(f, "expiring", "expiring", "bks");
	sleep(3);
	refused(f, body, f->buyer, 422, "root v3 has expired", "bob");
	free(body);

	/* ---- the sale ---- */
	body = body_of(f, "sold", "sold", "bks");
	j = tu_srv_expect(f->port, "POST", "/v1/transfers", f->buyer, body, 201);
	assert_string_equal(json_string_value(json_object_get(j, "fleet")), "bob");
	assert_string_equal(json_string_value(json_object_get(j, "from_fleet")), "acme");
	assert_string_equal(json_string_value(json_array_get(json_object_get(j, "devices"), 0)),
			    f->fl.devid[0]);
	{
		char tid[40];

		snprintf(tid, sizeof(tid), "%s", json_string_value(json_object_get(j, "transfer")));
		assert_non_null(audit_has(f, f->seller, "acme", "device.transfer_out", tid));
		assert_non_null(audit_has(f, f->buyer, "bob", "device.transfer_in", tid));
	}
	json_decref(j);
	/* The same submission again: the device is gone already. */
	refused(f, body, f->buyer, 409, "already transferred from fleet acme to bob", "no-such");
	free(body);

	/* The new fleet serves the whole chain, the transfer roots last; the old one stops at 2. */
	same_chain(f->port, "acme", "bob", 3);
	free(public_get(f->port, "/v1/fleets/bob/image/metadata/3.root.json"));
	json_decref(tu_srv_expect(f->port, "GET", "/v1/fleets/acme/image/metadata/3.root.json", NULL,
				  NULL, 404));
	{
		char *served = public_get(f->port, "/v1/fleets/bob/image/metadata/3.root.json");
		json_t *a = json_loads(served, 0, NULL), *b;

		snprintf(path, sizeof(path), "%s/sold/image-root.json", f->fl.dir);
		b = json_load_file(path, 0, NULL);
		assert_true(json_equal(json_object_get(a, "signed"), json_object_get(b, "signed")));
		json_decref(a);
		json_decref(b);
		free(served);
	}
	/* The device in the buyer's fleet: accepted, inventory kept, no tags, director metadata. */
	snprintf(path, sizeof(path), "/v1/fleets/bob/devices/%s", f->fl.devid[0]);
	j = tu_srv_expect(f->port, "GET", path, f->buyer, NULL, 200);
	assert_string_equal(json_string_value(json_object_get(j, "status")), "accepted");
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(j, "installed"), "os")), "1.0.0");
	assert_int_equal(json_object_size(json_object_get(j, "tags")), 0);
	assert_int_equal(json_array_size(json_object_get(j, "assignments")), 0);
	json_decref(j);
	free(public_get(f->port, "/v1/fleets/bob/director/%s/metadata/timestamp.json",
			f->fl.devid[0]));
	/* The old fleet: transferred with moved_to, told so at check-in and enrolment. */
	device_status(f, f->seller, "acme", f->fl.devid[0], "transferred", "bob");
	device_status(f, f->seller, "acme", f->fl.devid[1], "accepted", NULL);
	moved(f, 0, "acme", "bob");
	/* The seller's key means nothing in the new fleet. */
	snprintf(path, sizeof(path), "/v1/fleets/bob/devices/%s/assignment", f->fl.devid[0]);
	json_decref(tu_srv_expect(f->port, "PUT", path, f->seller,
				  "{\"target\":\"images/fw-2.0.img\"}", 401));
	json_decref(tu_srv_expect(f->port, "GET", "/v1/fleets/bob/devices", f->seller, NULL, 401));
	/* Nor on the device in the old fleet. */
	locked(f, "PUT", "acme", 0, "/assignment", "{\"target\":\"images/fw-2.0.img\"}", "bob");
	locked(f, "PUT", "acme", 0, "/pin", "{\"target\":\"images/fw-2.0.img\"}", "bob");
	locked(f, "PUT", "acme", 0, "/tags", "{\"tags\":{\"a\":\"b\"}}", "bob");
	locked(f, "POST", "acme", 0, "/accept", NULL, "bob");
	locked(f, "POST", "acme", 0, "/reject", NULL, "bob");
	locked(f, "DELETE", "acme", 0, "/assignment/image", NULL, "bob");
	/* It left the rollout: its deployment ended "transferred" and does not count. */
	snprintf(path, sizeof(path), "/v1/fleets/acme/rollouts/%lld/devices", (long long)rollout);
	j = tu_srv_expect(f->port, "GET", path, f->seller, NULL, 200);
	json_array_foreach(json_object_get(j, "devices"), i, d) {
		const char *dev = json_string_value(json_object_get(d, "device"));
		size_t k = tf_index(&f->fl, dev);

		if (k == 0) {
			assert_string_equal(json_string_value(json_object_get(d, "state")),
					    "transferred");
			assert_string_equal(json_string_value(json_object_get(d, "reason")),
					    "transferred to fleet bob");
		} else {
			tf_report(&f->fl, k, json_integer_value(json_object_get(d, "deployment")),
				  "success");
		}
	}
	json_decref(j);
	snprintf(path, sizeof(path), "/v1/fleets/acme/rollouts/%lld", (long long)rollout);
	j = tu_srv_expect(f->port, "GET", path, f->seller, NULL, 200);
	assert_string_equal(json_string_value(json_object_get(j, "state")), "completed");
	json_decref(j);

	/* The buyer publishes and assigns its own release. */
	cli(f, "transfer adopt sold --image bimg --director bdir");
	tf_run(f->fl.dir, "printf 'payload of images/bob.img' > bob.bin");
	cli(f, "target add bimg bob.bin --path images/bob.img --type image --version 3.0.0 "
	       "--security-version 3 --hardware hw-a");
	cli(f, "sign bimg targets --key bt.key");
	body = tf_text(f->fl.dir, "bimg/staged/targets.json");
	json_decref(tu_srv_expect(f->port, "PUT", "/v1/fleets/bob/image/metadata/targets", f->buyer,
				  body, 200));
	free(body);
	json_decref(tu_srv_expect(f->port, "PUT", "/v1/fleets/bob/image/targets/images/bob.img",
				  f->buyer, "payload of images/bob.img", 200));
	snprintf(path, sizeof(path), "/v1/fleets/bob/devices/%s/assignment", f->fl.devid[0]);
	json_decref(tu_srv_expect(f->port, "PUT", path, f->buyer, "{\"target\":\"images/bob.img\"}",
				  200));
	/* A targets signed by the seller's key is not the buyer's fleet's. */
	body = tf_text(f->fl.dir, "img/staged/targets.json");
	json_decref(tu_srv_expect(f->port, "PUT", "/v1/fleets/bob/image/metadata/targets", f->buyer,
				  body, 422));
	free(body);

	/* ---- resale: bob -> carol, the chain grows to v4 ---- */
	keyset(f, f->seller, "cks");
	{
		char dev[300];

		snprintf(dev, sizeof(dev), "--device %s", f->fl.devid[0]);
		cli(f, "transfer create --image bimg --director bdir --from-fleet bob --to-fleet carol "
		       "%s --root-key c1.pub --targets-key c1.pub --keyset cks/keyset.json --out resale",
		    dev);
	}
	cli(f, "sign --file resale/image-root.json --key b1.key --key b2.key --key c1.key");
	cli(f, "sign --file resale/director-root.json --key b1.key --key b2.key --key c1.key");
	body2 = body_of(f, "resale", "resale", "cks");
	j = tu_srv_expect(f->port, "POST", "/v1/transfers", f->seller, body2, 201);
	assert_string_equal(json_string_value(json_object_get(j, "fleet")), "carol");
	json_decref(j);
	free(body2);
	same_chain(f->port, "bob", "carol", 4);
	same_chain(f->port, "acme", "carol", 3);
	free(public_get(f->port, "/v1/fleets/carol/image/metadata/4.root.json"));
	device_status(f, f->buyer, "bob", f->fl.devid[0], "transferred", "carol");
	device_status(f, f->seller, "carol", f->fl.devid[0], "accepted", NULL);
	moved(f, 0, "bob", "carol");
	/* The buyer's assignment ended with the resale. */
	snprintf(path, sizeof(path), "/v1/fleets/bob/devices/%s/deployments", f->fl.devid[0]);
	j = tu_srv_expect(f->port, "GET", path, f->buyer, NULL, 200);
	assert_string_equal(
		json_string_value(json_object_get(json_array_get(json_object_get(j, "deployments"), 0),
						  "state")),
		"transferred");
	json_decref(j);

	server_stop(f->srv);
	fx_done(f);
}

/* ---- durability: SIGKILL right after the 201 ---- */

static pid_t spawn(struct fx *f, const char *log)
{
	struct tf_server s = fx_server(f);

	return tf_spawn(&s, log, &f->port);
}

static void test_sigkill(void **state)
{
	struct fx fx, *f = &fx;
	char log[4200], dev[300], *body;
	pid_t pid;

	(void)state;
	fx_init(f);
	snprintf(log, sizeof(log), "%s/run1.log", f->tmp);
	pid = spawn(f, log);
	tf_create(&f->fl, f->port, f->work, "acme", f->seller, TARGETS, 1);
	tf_add_devices(&f->fl, 2, "berlin");
	cli(f, "key generate b1 --no-passphrase");
	cli(f, "key generate b2 --no-passphrase");
	cli(f, "key generate bt --no-passphrase");
	keyset(f, f->buyer, "bks");
	snprintf(dev, sizeof(dev), "--device %s", f->fl.devid[1]);
	sale(f, "sold", "img", "dir", "acme", "bob", dev, "bks", "");
	sign(f, "sold", "r1.key", "d1.key");
	sign(f, "sold", "b1.key", "b1.key");
	sign(f, "sold", "b2.key", "b2.key");
	body = body_of(f, "sold", "sold", "bks");
	json_decref(tu_srv_expect(f->port, "POST", "/v1/transfers", f->buyer, body, 201));
	/* Killed right after the acknowledgement: no shutdown, no checkpoint. */
	tf_stop(pid, SIGKILL);

	snprintf(log, sizeof(log), "%s/run2.log", f->tmp);
	pid = spawn(f, log);
	f->fl.port = f->port;
	/* All of it is there, consistently: new fleet, both chains, device moved, seller locked out. */
	same_chain(f->port, "acme", "bob", 2);
	free(public_get(f->port, "/v1/fleets/bob/image/metadata/2.root.json"));
	free(public_get(f->port, "/v1/fleets/bob/director/%s/metadata/2.root.json", f->fl.devid[1]));
	device_status(f, f->buyer, "bob", f->fl.devid[1], "accepted", NULL);
	device_status(f, f->seller, "acme", f->fl.devid[1], "transferred", "bob");
	device_status(f, f->seller, "acme", f->fl.devid[0], "accepted", NULL);
	moved(f, 1, "acme", "bob");
	locked(f, "PUT", "acme", 1, "/tags", "{\"tags\":{\"a\":\"b\"}}", "bob");
	/* The key set was consumed and the device moved: the same request is refused. */
	refused(f, body, f->buyer, 409, "already transferred", "no-such");
	free(body);
	tf_stop(pid, SIGTERM);
	fx_done(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_sale_refusals_resale),
		cmocka_unit_test_teardown(test_sigkill, tf_kill_spawned),
	};

	curl_global_init(CURL_GLOBAL_DEFAULT);
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
