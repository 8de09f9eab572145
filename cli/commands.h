/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Entry points of the `upkeep` command groups, one per cli/cmd_<group>.c.
 * Each takes the group's own argv (argv[0] is the group name) and returns an exit status.
 */
#ifndef UPK_CLI_COMMANDS_H
#define UPK_CLI_COMMANDS_H

int cmd_key(int argc, char **argv);
int cmd_repo(int argc, char **argv);
int cmd_target(int argc, char **argv);
int cmd_delegate(int argc, char **argv);
int cmd_sign(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_renew(int argc, char **argv);
int cmd_root(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_publish(int argc, char **argv);
int cmd_verify(int argc, char **argv);
/* Talking to upkeep-server (cmd_server_*.c). */
int cmd_fleet(int argc, char **argv);
int cmd_device(int argc, char **argv);
int cmd_release(int argc, char **argv);
int cmd_rollout(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_bundle(int argc, char **argv);
/* Ownership (cmd_transfer.c, cmd_ownership.c). */
int cmd_transfer(int argc, char **argv);
int cmd_ownership(int argc, char **argv);

#endif
