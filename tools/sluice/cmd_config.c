/* sluice config: placeholder replaced by the configuration work. */
#include "cmd.h"

static int run(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	cli_error("config: not built yet");
	return EXIT_FAIL;
}

const cmd cmd_config_def = {
	"config", run, "check, explain and list configuration",
	"usage: sluice config check|explain|list|docs\n"};
