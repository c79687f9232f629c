/* cli.h - subcommands of the tailwart binary: argument parsing and output only. */
#ifndef TW_CLI_CLI_H
#define TW_CLI_CLI_H

int tw_cmd_edge(int argc, char **argv);
int tw_cmd_health(int argc, char **argv);
int tw_cmd_server(int argc, char **argv);
int tw_cmd_ban(int argc, char **argv);
int tw_cmd_dns(int argc, char **argv);

#endif
