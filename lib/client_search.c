/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Spec 5.6.7, finding a target: pre-order depth-first search of the
 * delegation graph from the top-level targets role. A visited set breaks
 * cycles, a bound on visited roles stops an attacker from making us fetch
 * without end, and a terminating delegation ends the search below it.
 * Delegated roles live only as long as the search.
 */
#include <stdlib.h>
#include <string.h>

#include "client_internal.h"

/* A role still to visit and the role that delegated to it. */
struct pending {
	const char *name; /* borrowed from the delegator (alive as long as the client) */
	const struct upk_metadata *delegator;
};

void upk_client_target_free(struct upk_client_target *t)
{
	if (t == NULL)
		return;
	free(t->path);
	json_decref(t->hashes);
	json_decref(t->custom);
	free(t->role);
	free(t);
}

static upk_status make_target(const struct upk_target *e, const char *role,
                              struct upk_client_target **out, struct upk_error *err)
{
	struct upk_client_target *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	t->path = strdup(e->path);
	t->role = strdup(role);
	t->length = e->length;
	t->hashes = json_deep_copy(e->hashes);
	t->custom = e->custom != NULL ? json_deep_copy(e->custom) : NULL;
	if (t->path == NULL || t->role == NULL || t->hashes == NULL ||
	    (e->custom != NULL && t->custom == NULL)) {
		upk_client_target_free(t);
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	}
	*out = t;
	return UPK_OK;
}

static int visited_before(const char *const *visited, size_t n, const char *name)
{
	/* O(n) per role, n bounded by max_delegations. */
	for (size_t i = 0; i < n; i++)
		if (strcmp(visited[i], name) == 0)
			return 1;
	return 0;
}

upk_status upk_client_find_target(struct upk_client *c, const char *path,
                                  struct upk_client_target **out, struct upk_error *err)
{
	unsigned budget = c->limits.max_delegations;
	struct pending *stack = NULL;
	const char **visited = NULL;
	size_t n_stack = 0, cap_stack = 0, n_visited = 0;
	upk_status ret;

	if (path == NULL || *path == '\0')
		return upk_error_set(err, UPK_ERR_INVALID, "empty target path");
	if (!c->refreshed) {
		ret = upk_client_refresh(c, err);
		if (ret != UPK_OK)
			return ret;
	}
	visited = calloc(budget, sizeof(*visited));
	cap_stack = 16;
	stack = malloc(cap_stack * sizeof(*stack));
	if (visited == NULL || stack == NULL) {
		ret = upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
		goto out;
	}
	stack[n_stack++] = (struct pending){"targets", NULL};
	ret = UPK_ERR_NOT_FOUND;
	while (n_stack > 0 && budget > 0) {
		struct pending p = stack[--n_stack];
		struct upk_metadata *md = NULL;
		struct upk_target entry;
		size_t n_deleg, first_child;

		/* Spec 5.6.7.1: skip what was visited (cycles in the graph). */
		if (visited_before(visited, n_visited, p.name))
			continue;
		ret = client_load_targets(c, p.name, p.delegator, &md, err);
		if (ret != UPK_OK) {
			/* Spec 5.6.7: metadata that cannot be had ends the search. */
			upk_error_prefix(err, ret, "target %s: ", path);
			goto out;
		}
		visited[n_visited++] = p.name;
		budget--;
		if (upk_targets_find(md, path, &entry, NULL) == UPK_OK) {
			ret = make_target(&entry, p.name, out, err);
			goto out;
		}
		/* Spec 5.6.7.2: children in order of appearance, pushed in reverse. */
		first_child = n_stack;
		n_deleg = upk_delegations_count(md);
		for (size_t i = 0; i < n_deleg; i++) {
			struct upk_delegation d;

			if (upk_delegation_at(md, i, &d, NULL) != UPK_OK ||
			    !upk_delegation_covers(&d, path))
				continue;
			if (n_stack == cap_stack) {
				struct pending *ns = realloc(stack, 2 * cap_stack * sizeof(*stack));

				if (ns == NULL) {
					ret = upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
					goto out;
				}
				stack = ns;
				cap_stack *= 2;
			}
			stack[n_stack++] = (struct pending){d.name, md};
			if (d.terminating) {
				/*
				 * Spec 5.6.7.2.1: nothing after a terminating delegation
				 * that covers the path is searched, at any level: drop
				 * what was pending and keep this role's children so far.
				 */
				memmove(stack, stack + first_child,
				        (n_stack - first_child) * sizeof(*stack));
				n_stack -= first_child;
				first_child = 0;
				break;
			}
		}
		/* Reverse the children so the first listed is searched first. */
		for (size_t a = first_child, b = n_stack; a + 1 < b; a++, b--) {
			struct pending t = stack[a];

			stack[a] = stack[b - 1];
			stack[b - 1] = t;
		}
		ret = UPK_ERR_NOT_FOUND;
	}
	ret =
	    upk_error_set(err, UPK_ERR_NOT_FOUND,
	                  "target %s: not listed by any role that may list it (%zu roles searched)",
	                  path, n_visited);
out:
	/*
	 * Delegated roles are as large as the top-level one and a device asks
	 * for few targets: keep them only for the search that needed them. A
	 * later search reads them back from the store, under the same checks.
	 */
	client_drop_roles(c);
	free(visited);
	free(stack);
	return ret;
}
