/*
 * sluice stats FILE: the checkpoint statistics document that `sluice run
 * --stats-json FILE` keeps up to date, as a table: the counts, then one
 * row per checkpoint in the history (newest first, as Flink keeps it).
 */
#include <stdio.h>

#include <cJSON.h>

#include "cmd.h"

static double num(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItem(o, k);

	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static const char *str(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItem(o, k);

	return cJSON_IsString(v) ? v->valuestring : "";
}

static int run(int argc, char **argv)
{
	const cJSON *counts, *hist, *c;
	cJSON *doc;

	if (argc != 2) {
		fputs(cmd_stats_def.usage, stderr);
		return EXIT_USAGE;
	}
	doc = cli_read_json(argv[1]);
	counts = cJSON_GetObjectItem(doc, "counts");
	hist = cJSON_GetObjectItem(doc, "history");
	if (!cJSON_IsObject(counts) || !cJSON_IsArray(hist)) {
		cli_error(
			"stats: '%s' is not a checkpoint statistics document "
			"(sluice run --stats-json)",
			argv[1]);
		cJSON_Delete(doc);
		return EXIT_USAGE;
	}
	printf("checkpoints: %.0f triggered, %.0f in progress, %.0f completed, "
	       "%.0f failed, %.0f restored; %.0f restarts\n\n",
	       num(counts, "total"), num(counts, "in_progress"),
	       num(counts, "completed"), num(counts, "failed"),
	       num(counts, "restored"), num(doc, "restarts"));
	printf("%-6s %-11s %-10s %10s %12s %12s  %s\n", "ID", "STATUS", "KIND",
	       "DURATION", "STATE", "CHECKPOINTED", "FAILURE");
	cJSON_ArrayForEach(c, hist)
	{
		const cJSON *sp = cJSON_GetObjectItem(c, "is_savepoint");

		printf("%-6.0f %-11s %-10s %8.0fms %12.0f %12.0f  %s\n",
		       num(c, "id"), str(c, "status"),
		       cJSON_IsTrue(sp) ? "savepoint" : "checkpoint",
		       num(c, "end_to_end_duration"), num(c, "state_size"),
		       num(c, "checkpointed_size"), str(c, "failure_reason"));
	}
	cJSON_Delete(doc);
	return 0;
}

const cmd cmd_stats_def = {
	"stats", run, "show a run's checkpoint statistics as a table",
	"usage: sluice stats FILE\n\n"
	"FILE is the statistics document of 'sluice run --stats-json FILE'\n"
	"(Flink's REST field names).  Prints the counts and one row per\n"
	"checkpoint: id, status, kind, end-to-end duration, state size,\n"
	"checkpointed size and the failure reason of failed ones; 'sluice\n"
	"doctor --stats FILE' explains the failures.\n"};
