/*
 * sluice savepoint JOB-DIR [--dir TARGET]: ask a running `sluice run` (or
 * any program serving sluice_run_serve_control) for a savepoint through
 * the control channel in JOB-DIR/.control (docs/run.md) and print its
 * path.  The job keeps running.
 *
 * JOB-DIR is what `sluice run` printed at start: the job's checkpoint
 * directory `<execution.checkpointing.dir>/<job-id>` on a local file
 * system.  Exit 0 with the path on stdout; 1 when no running job serves
 * the directory (stale files included) or the savepoint failed, with the
 * reason; 2 for bad usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "sluice/monitor.h"
#include "sluice/sys/storage.h"

static int savepoint(int argc, char **argv)
{
	const char *dir = NULL, *target = NULL;
	char *path = NULL;
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--dir")) {
			if (++i >= argc) {
				cli_error("savepoint: --dir needs a value");
				return EXIT_USAGE;
			}
			target = argv[i];
		} else if (!strncmp(argv[i], "--dir=", 6)) {
			target = argv[i] + 6;
		} else if (argv[i][0] == '-' || dir) {
			cli_error(
				"savepoint: unexpected argument '%s'", argv[i]);
			return EXIT_USAGE;
		} else {
			dir = argv[i];
		}
	}
	if (!dir) {
		cli_error("usage: sluice savepoint JOB-DIR [--dir TARGET]");
		return EXIT_USAGE;
	}
	if (sluice_savepoint_request(dir, target, &path) < 0) {
		cli_error_last("savepoint");
		return sluice_error_last()->code == SLUICE_EINVALID && target &&
				       strchr(target, '\n')
			       ? EXIT_USAGE
			       : EXIT_FAIL;
	}
	printf("%s\n", path);
	sluice_free_bytes(path);
	return 0;
}

const cmd cmd_savepoint_def = {
	"savepoint", savepoint, "take a savepoint of a running job",
	"usage: sluice savepoint JOB-DIR [--dir TARGET]\n\n"
	"Asks the `sluice run` serving JOB-DIR (the job directory it printed\n"
	"at start: <execution.checkpointing.dir>/<job-id>) for a savepoint\n"
	"and prints its path.  The job keeps running.\n\n"
	"  --dir TARGET   where to write it (default: the job's\n"
	"                 execution.checkpointing.savepoint-dir)\n\n"
	"Exit: 0 the savepoint's path printed, 1 no running job serves the\n"
	"directory or the savepoint failed, 2 bad usage.\n"};
