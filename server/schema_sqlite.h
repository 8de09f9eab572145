/* SPDX-License-Identifier: Apache-2.0 */
/* The SQLite schema as an ordered list of migrations (schema_migrations.version = index + 1). */
#ifndef UPK_SERVER_SCHEMA_SQLITE_H
#define UPK_SERVER_SCHEMA_SQLITE_H

#include <stddef.h>

extern const char *const sqlite_migrations[];
extern const size_t sqlite_n_migrations;

#endif
