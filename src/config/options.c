/*
 * The one static option registry: every configuration key sluice knows,
 * under its Flink 2.x name, with its deprecated aliases in Flink's
 * fallback order, type, default, bounds, description and the seed note's
 * advice.  Everything else (docs, `sluice config explain`, validation)
 * is generated from this table.  Also owns key lookup, the "did you
 * mean" suggestion and the rule for which keys are secret.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "config/internal.h"
#include "util/alloc.h"

#define A(...) ((const char *const[]){__VA_ARGS__, NULL})
#define E(...) ((const char *const[]){__VA_ARGS__, NULL})
/* No bounds: min > max. */
#define NB        .min = 1, .max = 0
#define B(lo, hi) .min = (lo), .max = (hi)

static const sluice_option options[] = {
	/* --- checkpointing (spec §3.4) --- */
	{.key = "execution.checkpointing.interval",
	 .type = SLUICE_OPT_DURATION,
	 B(0, INT64_MAX),
	 .description = "Base period between two periodic checkpoints. Unset "
			"or 0 disables periodic checkpointing; otherwise at "
			"least 10 ms.",
	 .advice = "1-10 min is the usual advice."},
	{.key = "execution.checkpointing.interval-during-backlog",
	 .type = SLUICE_OPT_DURATION,
	 B(0, INT64_MAX),
	 .description = "Checkpoint interval while a source reports "
			"processing backlog. Unset = the normal interval; 0 "
			"disables checkpoints during backlog; otherwise it "
			"must be at least the normal interval."},
	{.key = "execution.checkpointing.mode",
	 .type = SLUICE_OPT_ENUM,
	 .default_value = "EXACTLY_ONCE",
	 .enum_values = E("EXACTLY_ONCE", "AT_LEAST_ONCE"),
	 NB,
	 .description = "Consistency guarantee of checkpoints. With "
			"checkpointing disabled the job runs at-least-once "
			"regardless.",
	 .advice = "EXACTLY_ONCE is recommended."},
	{.key = "execution.checkpointing.timeout",
	 .type = SLUICE_OPT_DURATION,
	 .default_value = "10 min",
	 B(10, INT64_MAX),
	 .description = "A checkpoint not complete after this long is "
			"aborted (Checkpoint expired before completing). At "
			"least 10 ms.",
	 .advice = "About 30 min is recommended."},
	{.key = "execution.checkpointing.max-concurrent-checkpoints",
	 .type = SLUICE_OPT_INT,
	 .default_value = "1",
	 B(1, INT32_MAX),
	 .description = "How many checkpoints may be in flight at once. Must "
			"be 1 with unaligned checkpoints."},
	{.key = "execution.checkpointing.min-pause",
	 .type = SLUICE_OPT_DURATION,
	 .default_value = "0 ms",
	 B(0, INT64_MAX),
	 .description = "Minimum pause between the end of one checkpoint and "
			"the start of the next. Capped at one year; a "
			"min-pause larger than the interval raises the "
			"interval to it."},
	{.key = "execution.checkpointing.tolerable-failed-checkpoints",
	 .type = SLUICE_OPT_INT,
	 .default_value = "0",
	 B(0, INT32_MAX),
	 .description = "Consecutive counted checkpoint failures tolerated "
			"before the job fails over. 2147483647 = unlimited."},
	{.key = "execution.checkpointing.unaligned.enabled",
	 .aliases = A("execution.checkpointing.unaligned"),
	 .type = SLUICE_OPT_BOOL,
	 .default_value = "false",
	 NB,
	 .description = "Unaligned checkpoints: barriers overtake in-flight "
			"data, which is stored with the checkpoint. Needs "
			"EXACTLY_ONCE and max-concurrent-checkpoints 1. "
			"Savepoints are always aligned.",
	 .advice = "Recommended off."},
	{.key = "execution.checkpointing.unaligned.forced",
	 .type = SLUICE_OPT_BOOL,
	 .default_value = "false",
	 NB,
	 .description = "Allow unaligned checkpoints for iterative jobs and "
			"custom partitioners, where rescaling from them is "
			"not guaranteed to work. sluice has neither (its "
			"edges are forward, rebalance, broadcast and key-by), "
			"so every channel takes unaligned barriers with or "
			"without it."},
	{.key = "execution.checkpointing.aligned-checkpoint-timeout",
	 .aliases = A("execution.checkpointing.alignment-timeout"),
	 .type = SLUICE_OPT_DURATION,
	 .default_value = "0 s",
	 B(0, INT64_MAX),
	 .description = "Only with unaligned checkpoints: 0 starts every "
			"checkpoint unaligned; a positive value starts it "
			"aligned and switches to unaligned once alignment "
			"takes longer than this."},
	{.key = "execution.checkpointing.unaligned.max-subtasks-per-channel-"
		"state-file",
	 .type = SLUICE_OPT_INT,
	 .default_value = "5",
	 B(1, INT32_MAX),
	 .description = "How many subtasks share one channel-state file; 1 "
			"writes one file per subtask."},
	{.key = "execution.checkpointing.unaligned.interruptible-timers."
		"enabled",
	 .type = SLUICE_OPT_BOOL,
	 .default_value = "false",
	 NB,
	 .flags = SLUICE_OPTF_NO_EFFECT,
	 .description = "Experimental in Flink: let timers firing be "
			"interrupted by unaligned checkpoint barriers. Not "
			"implemented: sluice fires timers between mails."},
	{.key = "execution.checkpointing.force",
	 .type = SLUICE_OPT_BOOL,
	 .default_value = "false",
	 NB,
	 .flags = SLUICE_OPTF_NOOP | SLUICE_OPTF_DEPRECATED,
	 .description = "Deprecated (Flink 1.x internal): force checkpoints "
			"for iterative jobs; sluice has none."},
	{.key = "execution.checkpointing.checkpoints-after-tasks-finish",
	 .aliases = A("execution.checkpointing.checkpoints-after-tasks-"
		      "finish.enabled"),
	 .type = SLUICE_OPT_BOOL,
	 .default_value = "true",
	 NB,
	 .description = "Keep checkpointing after some tasks have finished "
			"(FLIP-147)."},
	{.key = "execution.checkpointing.externalized-checkpoint-retention",
	 .type = SLUICE_OPT_ENUM,
	 .default_value = "NO_EXTERNALIZED_CHECKPOINTS",
	 .enum_values =
		 E("NO_EXTERNALIZED_CHECKPOINTS",
		   "DELETE_ON_CANCELLATION",
		   "RETAIN_ON_CANCELLATION"),
	 NB,
	 .description = "Whether completed checkpoints are kept when the job "
			"is cancelled."},
	{.key = "execution.checkpointing.num-retained",
	 .aliases = A("state.checkpoints.num-retained"),
	 .type = SLUICE_OPT_INT,
	 .default_value = "1",
	 NB,
	 .description = "How many completed checkpoints are kept. A value "
			"<= 0 is replaced by 1 with a warning."},
	{.key = "execution.checkpointing.dir",
	 .aliases =
		 A("state.checkpoints.dir", "state.backend.fs.checkpointdir"),
	 .type = SLUICE_OPT_URI,
	 NB,
	 .description = "Base directory of checkpoints: a path or "
			"file://, s3://, obs://, hdfs://, memory:// URI."},
	{.key = "execution.checkpointing.savepoint-dir",
	 .aliases =
		 A("state.savepoints.dir", "savepoints.state.backend.fs.dir"),
	 .type = SLUICE_OPT_URI,
	 NB,
	 .description = "Default directory of savepoints."},
	{.key = "execution.checkpointing.storage",
	 .aliases = A("state.checkpoint-storage"),
	 .type = SLUICE_OPT_ENUM,
	 .enum_values = E("jobmanager", "filesystem"),
	 NB,
	 .description = "Checkpoint storage. Unset: filesystem when a "
			"checkpoint directory is set, else jobmanager "
			"(in memory)."},
	{.key = "execution.checkpointing.create-subdir",
	 .aliases = A("state.checkpoints.create-subdir"),
	 .type = SLUICE_OPT_BOOL,
	 .default_value = "true",
	 NB,
	 .description = "Put each job's checkpoints in a <job-id> "
			"sub-directory of the checkpoint directory."},
	{.key = "execution.checkpointing.incremental",
	 .aliases = A("state.backend.incremental"),
	 .type = SLUICE_OPT_BOOL,
	 .default_value = "false",
	 NB,
	 .description = "Incremental checkpoints: upload only new RocksDB "
			"files. The hashmap backend ignores it.",
	 .advice = "Recommended on."},
	{.key = "execution.checkpointing.data-inline-threshold",
	 .aliases =
		 A("state.storage.fs.memory-threshold",
		   "state.backend.fs.memory-threshold"),
	 .type = SLUICE_OPT_MEMORY,
	 .default_value = "20kb",
	 NB,
	 .description = "State smaller than this is stored inline in the "
			"checkpoint metadata instead of its own file. At most "
			"1 mb; an invalid value is replaced by the default "
			"with a warning."},
	{.key = "execution.checkpointing.write-buffer-size",
	 .aliases =
		 A("state.storage.fs.write-buffer-size",
		   "state.backend.fs.write-buffer-size"),
	 .type = SLUICE_OPT_INT,
	 .default_value = "4096",
	 B(0, INT32_MAX),
	 .description = "Write buffer of checkpoint streams, in bytes (plain "
			"integer: '4 * 1024' is not accepted). The effective "
			"size is max(this, data-inline-threshold)."},
	{.key = "execution.checkpointing.local-backup.enabled",
	 .aliases = A("state.backend.local-recovery"),
	 .type = SLUICE_OPT_BOOL,
	 .default_value = "false",
	 NB,
	 .flags = SLUICE_OPTF_NO_EFFECT,
	 .description = "Also keep a local copy of each checkpoint for fast "
			"task-local recovery. Not implemented: sluice restores "
			"from the checkpoint storage (a local disk is one)."},
	{.key = "execution.checkpointing.local-backup.dirs",
	 .aliases = A("taskmanager.state.local.root-dirs"),
	 .type = SLUICE_OPT_STRING,
	 NB,
	 .flags = SLUICE_OPTF_NO_EFFECT,
	 .description = "Directories of local checkpoint copies. Not "
			"implemented (see local-backup.enabled)."},
	{.key = "execution.checkpointing.cleaner.parallel-mode",
	 .aliases = A("state.checkpoint.cleaner.parallel-mode"),
	 .type = SLUICE_OPT_BOOL,
	 .default_value = "true",
	 NB,
	 .flags = SLUICE_OPTF_NO_EFFECT,
	 .description = "Discard the states of a subsumed checkpoint in "
			"parallel. Not implemented: sluice discards them one "
			"after the other."},
	{.key = "execution.checkpointing.file-merging.enabled",
	 .type = SLUICE_OPT_BOOL,
	 .default_value = "false",
	 NB,
	 .flags = SLUICE_OPTF_NO_EFFECT,
	 .description = "Experimental in Flink (FLIP-306): merge small "
			"checkpoint files. Not implemented: small state is "
			"inlined in _metadata (data-inline-threshold)."},
	{.key = "execution.checkpointing.file-merging.max-file-size",
	 .type = SLUICE_OPT_MEMORY,
	 .default_value = "32mb",
	 B(1, INT64_MAX),
	 .flags = SLUICE_OPTF_NO_EFFECT,
	 .description = "Experimental: upper size of a merged file. Not "
			"implemented (see file-merging.enabled)."},
	{.key = "execution.checkpointing.file-merging.across-checkpoint-"
		"boundary",
	 .type = SLUICE_OPT_BOOL,
	 .default_value = "false",
	 NB,
	 .flags = SLUICE_OPTF_NO_EFFECT,
	 .description = "Experimental: merge files of different "
			"checkpoints. Not implemented (see "
			"file-merging.enabled)."},
	{.key = "execution.checkpointing.file-merging.pool-blocking",
	 .type = SLUICE_OPT_BOOL,
	 .default_value = "false",
	 NB,
	 .flags = SLUICE_OPTF_NO_EFFECT,
	 .description = "Experimental: block while no physical file is free "
			"for reuse. Not implemented (see "
			"file-merging.enabled)."},
	{.key = "execution.checkpointing.file-merging.max-space-"
		"amplification",
	 .type = SLUICE_OPT_DOUBLE,
	 .default_value = "2.0",
	 NB,
	 .flags = SLUICE_OPTF_NO_EFFECT,
	 .description = "Experimental: compact a merged file when its space "
			"amplification exceeds this (>= 1). Not implemented "
			"(see file-merging.enabled)."},
	{.key = "execution.checkpointing.snapshot-compression",
	 .type = SLUICE_OPT_BOOL,
	 .default_value = "false",
	 NB,
	 .description = "Compress keyed full snapshots per key group; the "
			"codec is sluice.snapshot-compression.codec."},
	{.key = "sluice.snapshot-compression.codec",
	 .type = SLUICE_OPT_ENUM,
	 .default_value = "zstd",
	 .enum_values = E("zstd", "lz4"),
	 NB,
	 .description = "sluice only: codec of compressed snapshots (Flink "
			"uses Snappy)."},
	/* --- state backends (spec §3.5) --- */
	{.key = "state.backend.type",
	 .aliases = A("state.backend"),
	 .type = SLUICE_OPT_ENUM,
	 .default_value = "hashmap",
	 .enum_values = E("hashmap", "rocksdb"),
	 NB,
	 .description = "Where keyed state lives: hashmap (objects on the "
			"heap) or rocksdb (embedded RocksDB on local disk).",
	 .advice = "rocksdb is recommended."},
	{.key = "state.backend.async",
	 .type = SLUICE_OPT_BOOL,
	 .default_value = "true",
	 NB,
	 .flags = SLUICE_OPTF_NOOP | SLUICE_OPTF_DEPRECATED,
	 .description = "Deprecated, no effect: all state snapshots are "
			"asynchronous."},
	{.key = "state.latency-track.keyed-state-enabled",
	 .aliases = A("state.backend.latency-track.keyed-state-enabled"),
	 .type = SLUICE_OPT_BOOL,
	 .default_value = "false",
	 NB,
	 .description = "Track the latency of keyed-state operations.",
	 .advice = "Recommended off."},
	{.key = "state.latency-track.sample-interval",
	 .aliases = A("state.backend.latency-track.sample-interval"),
	 .type = SLUICE_OPT_INT,
	 .default_value = "100",
	 NB,
	 .description = "Sample every N-th state access (1 = every access). "
			"Must be >= 1 when latency tracking is enabled."},
	{.key = "state.latency-track.history-size",
	 .aliases = A("state.backend.latency-track.history-size"),
	 .type = SLUICE_OPT_INT,
	 .default_value = "128",
	 B(1, INT32_MAX),
	 .description = "How many sampled latencies each histogram keeps."},
	{.key = "state.latency-track.state-name-as-variable",
	 .aliases = A("state.backend.latency-track.state-name-as-variable"),
	 .type = SLUICE_OPT_BOOL,
	 .default_value = "true",
	 NB,
	 .description = "Expose the state name as metric variable state_name "
			"instead of a metric sub-group."},
	{.key = "table.exec.state.ttl",
	 .type = SLUICE_OPT_DURATION,
	 .default_value = "0 ms",
	 B(0, INT64_MAX),
	 .description = "State time-to-live of stateful SQL operators (joins "
			"above all); 0 = state never expires. Bounds state "
			"growth."},
	{.key = "state.backend.rocksdb.localdir",
	 .type = SLUICE_OPT_STRING,
	 NB,
	 .description = "Local directory of RocksDB files. Unset = a "
			"temporary directory."},
	{.key = "state.backend.rocksdb.memory.managed",
	 .type = SLUICE_OPT_BOOL,
	 .default_value = "true",
	 NB,
	 .flags = SLUICE_OPTF_NO_EFFECT,
	 .description = "Bound RocksDB memory by the slot's managed memory. "
			"Not implemented: sluice has no managed memory; use "
			"memory.fixed-per-slot or block.cache-size and "
			"writebuffer.size."},
	{.key = "state.backend.rocksdb.memory.fixed-per-slot",
	 .type = SLUICE_OPT_MEMORY,
	 B(1, INT64_MAX),
	 .description = "Fixed RocksDB memory per slot; overrides "
			"memory.managed."},
	{.key = "state.backend.rocksdb.block.cache-size",
	 .type = SLUICE_OPT_MEMORY,
	 .default_value = "8mb",
	 B(1, INT64_MAX),
	 .description = "RocksDB block cache size (without managed memory)."},
	{.key = "state.backend.rocksdb.writebuffer.size",
	 .type = SLUICE_OPT_MEMORY,
	 .default_value = "64mb",
	 B(1, INT64_MAX),
	 .description = "RocksDB memtable size (without managed memory)."},
	{.key = "state.backend.rocksdb.predefined-options",
	 .type = SLUICE_OPT_ENUM,
	 .default_value = "DEFAULT",
	 .enum_values =
		 E("DEFAULT",
		   "SPINNING_DISK_OPTIMIZED",
		   "SPINNING_DISK_OPTIMIZED_HIGH_MEM",
		   "FLASH_SSD_OPTIMIZED"),
	 NB,
	 .description = "A predefined RocksDB tuning profile."},
	{.key = "state.backend.rocksdb.thread.num",
	 .type = SLUICE_OPT_INT,
	 .default_value = "2",
	 B(1, INT32_MAX),
	 .description = "RocksDB background flush and compaction threads."},
	{.key = "state.backend.rocksdb.checkpoint.transfer.thread.num",
	 .type = SLUICE_OPT_INT,
	 .default_value = "4",
	 B(1, INT32_MAX),
	 .description = "Threads uploading and downloading RocksDB files "
			"during checkpoints and restores."},
	{.key = "state.backend.rocksdb.compaction.filter.query-time-after-num-"
		"entries",
	 .type = SLUICE_OPT_LONG,
	 .default_value = "1000",
	 B(1, INT64_MAX),
	 .description = "TTL compaction filter: read the current time again "
			"after this many entries."},
	{.key = "state.backend.rocksdb.compaction.filter.periodic-compaction-"
		"time",
	 .type = SLUICE_OPT_DURATION,
	 .default_value = "30 d",
	 B(0, INT64_MAX),
	 .flags = SLUICE_OPTF_NO_EFFECT,
	 .description = "TTL: compact files older than this so expired state "
			"goes away. Not implemented: RocksDB 7.8's C API "
			"cannot set periodic compaction; expired state goes "
			"at the compactions writes cause."},
	{.key = "state.backend.rocksdb.writebuffer.count",
	 .type = SLUICE_OPT_INT,
	 .default_value = "2",
	 B(1, INT32_MAX),
	 .description = "The maximum number of RocksDB write buffers "
			"(memtables) built up in memory."},
	{.key = "state.backend.rocksdb.writebuffer.number-to-merge",
	 .type = SLUICE_OPT_INT,
	 .default_value = "1",
	 B(1, INT32_MAX),
	 .description = "The minimum number of write buffers merged together "
			"before they are written to storage."},
	{.key = "state.backend.rocksdb.files.open",
	 .type = SLUICE_OPT_INT,
	 .default_value = "-1",
	 B(-1, INT32_MAX),
	 .description = "The maximum number of files each RocksDB instance "
			"keeps open; -1 = no limit."},
	{.key = "state.backend.rocksdb.log.level",
	 .type = SLUICE_OPT_ENUM,
	 .default_value = "INFO_LEVEL",
	 .enum_values =
		 E("DEBUG_LEVEL",
		   "INFO_LEVEL",
		   "WARN_LEVEL",
		   "ERROR_LEVEL",
		   "FATAL_LEVEL",
		   "HEADER_LEVEL",
		   "NUM_INFO_LOG_LEVELS"),
	 NB,
	 .description = "Level of RocksDB's own information log (its LOG "
			"file, in the instance directory unless log.dir is "
			"set). Only worth raising to troubleshoot RocksDB."},
	{.key = "state.backend.rocksdb.log.max-file-size",
	 .type = SLUICE_OPT_MEMORY,
	 .default_value = "25mb",
	 B(0, INT64_MAX),
	 .description = "Size at which RocksDB starts a new information log "
			"file; 0 = one file."},
	{.key = "state.backend.rocksdb.log.file-num",
	 .type = SLUICE_OPT_INT,
	 .default_value = "4",
	 B(1, INT32_MAX),
	 .description = "How many information log files RocksDB keeps."},
	{.key = "state.backend.rocksdb.log.dir",
	 .type = SLUICE_OPT_STRING,
	 NB,
	 .description = "Absolute directory for RocksDB's information logs "
			"(file names carry the instance path). Unset = each "
			"instance's own directory."},
	{.key = "state.backend.rocksdb.compaction.style",
	 .type = SLUICE_OPT_ENUM,
	 .default_value = "LEVEL",
	 .enum_values = E("LEVEL", "UNIVERSAL", "FIFO", "NONE"),
	 NB,
	 .description = "RocksDB compaction style. FIFO deletes the oldest "
			"files once they pass 1 GB in total (state is lost); "
			"NONE never compacts (writes stop when level 0 "
			"fills up)."},
	{.key = "state.backend.rocksdb.compaction.level.use-dynamic-size",
	 .type = SLUICE_OPT_BOOL,
	 .default_value = "false",
	 NB,
	 .description = "Let RocksDB pick each level's target size "
			"dynamically (level_compaction_dynamic_level_bytes)."},
	{.key = "state.backend.rocksdb.compaction.level.target-file-size-base",
	 .type = SLUICE_OPT_MEMORY,
	 .default_value = "64mb",
	 B(1, INT64_MAX),
	 .description = "Target size of the files compaction writes (level "
			"1)."},
	{.key = "state.backend.rocksdb.compaction.level.max-size-level-base",
	 .type = SLUICE_OPT_MEMORY,
	 .default_value = "256mb",
	 B(1, INT64_MAX),
	 .description = "Upper bound of the total size of the base level's "
			"files."},
	{.key = "state.backend.rocksdb.block.blocksize",
	 .type = SLUICE_OPT_MEMORY,
	 .default_value = "4kb",
	 B(1, INT64_MAX),
	 .description = "Approximate size of user data packed per block."},
	{.key = "state.backend.rocksdb.block.metadata-blocksize",
	 .type = SLUICE_OPT_MEMORY,
	 .default_value = "4kb",
	 B(1, INT64_MAX),
	 .description = "Approximate size of partitioned metadata (index) "
			"blocks."},
	{.key = "state.backend.rocksdb.use-bloom-filter",
	 .type = SLUICE_OPT_BOOL,
	 .default_value = "false",
	 NB,
	 .description = "Give every new SST file a Bloom filter: fewer disk "
			"reads for keys that are absent, more memory."},
	{.key = "state.backend.rocksdb.bloom-filter.bits-per-key",
	 .type = SLUICE_OPT_DOUBLE,
	 .default_value = "10.0",
	 NB,
	 .description = "Bits per key of the Bloom filter (> 0); only with "
			"use-bloom-filter."},
	{.key = "state.backend.rocksdb.bloom-filter.block-based-mode",
	 .type = SLUICE_OPT_BOOL,
	 .default_value = "false",
	 NB,
	 .description = "Block-based instead of full Bloom filters. RocksDB "
			"7 removed block-based filters: true is accepted "
			"with a warning and full filters are built."},
	{.key = "state.backend.rocksdb.compression.per.level",
	 .type = SLUICE_OPT_ENUM_LIST,
	 .default_value = "SNAPPY_COMPRESSION",
	 .enum_values =
		 E("NO_COMPRESSION",
		   "SNAPPY_COMPRESSION",
		   "ZLIB_COMPRESSION",
		   "BZLIB2_COMPRESSION",
		   "LZ4_COMPRESSION",
		   "LZ4HC_COMPRESSION",
		   "XPRESS_COMPRESSION",
		   "ZSTD_COMPRESSION"),
	 NB,
	 .description = "Compression per level: entry N for level N-1, "
			"later levels take the last entry (e.g. "
			"NO_COMPRESSION;NO_COMPRESSION;LZ4_COMPRESSION). A "
			"type this RocksDB was built without fails the open, "
			"naming it."},
	/* --- recovery (spec §3.6) --- */
	{.key = "execution.state-recovery.path",
	 .aliases = A("execution.savepoint.path"),
	 .type = SLUICE_OPT_URI,
	 NB,
	 .description = "Savepoint or checkpoint to restore the job from."},
	{.key = "execution.state-recovery.ignore-unclaimed-state",
	 .aliases = A("execution.savepoint.ignore-unclaimed-state"),
	 .type = SLUICE_OPT_BOOL,
	 .default_value = "false",
	 NB,
	 .description = "Allow a restore that leaves state of removed "
			"operators unclaimed."},
	{.key = "execution.state-recovery.claim-mode",
	 .aliases = A("execution.savepoint-restore-mode"),
	 .type = SLUICE_OPT_ENUM,
	 .default_value = "NO_CLAIM",
	 .enum_values = E("CLAIM", "NO_CLAIM", "LEGACY"),
	 NB,
	 .description = "Who owns the restored snapshot: CLAIM (the job may "
			"delete it), NO_CLAIM (first checkpoint is full), "
			"LEGACY (deprecated)."},
	{.key = "execution.state-recovery.from-local",
	 .aliases = A("state.backend.local-recovery"),
	 .type = SLUICE_OPT_BOOL,
	 .default_value = "false",
	 NB,
	 .flags = SLUICE_OPTF_NO_EFFECT,
	 .description = "Restore from the task-local copy when one exists. "
			"Not implemented (see "
			"execution.checkpointing.local-backup.enabled)."},
	{.key = "execution.state-recovery.approximate-local-recovery",
	 .type = SLUICE_OPT_BOOL,
	 .default_value = "false",
	 NB,
	 .flags = SLUICE_OPTF_NO_EFFECT,
	 .description = "Internal in Flink: approximate task-local recovery. "
			"Not implemented."},
	{.key = "execution.state-recovery.without-channel-state.checkpoint-id",
	 .aliases = A("execution.checkpointing.recover-without-channel-state."
		      "checkpoint-id"),
	 .type = SLUICE_OPT_LONG,
	 .default_value = "-1",
	 B(-1, INT64_MAX),
	 .description = "Restore the checkpoint with this id without its "
			"channel state (-1 = off): the in-flight records an "
			"unaligned checkpoint held are lost, and it also "
			"restores at another parallelism. An escape hatch."},
	{.key = "restart-strategy.type",
	 .aliases = A("restart-strategy"),
	 .type = SLUICE_OPT_ENUM,
	 .enum_values =
		 E("none", "fixed-delay", "failure-rate", "exponential-delay"),
	 .enum_synonyms =
		 E("disable",
		   "none",
		   "off",
		   "none",
		   "fixeddelay",
		   "fixed-delay",
		   "failurerate",
		   "failure-rate",
		   "exponentialdelay",
		   "exponential-delay"),
	 NB,
	 .description = "How a failed job restarts: none (also off, "
			"disable), fixed-delay, failure-rate or "
			"exponential-delay. Unset: none without "
			"checkpointing, exponential-delay with it."},
	{.key = "restart-strategy.fixed-delay.attempts",
	 .type = SLUICE_OPT_INT,
	 .default_value = "1",
	 B(0, INT32_MAX),
	 .description = "fixed-delay: restarts before the job fails."},
	{.key = "restart-strategy.fixed-delay.delay",
	 .type = SLUICE_OPT_DURATION,
	 .default_value = "1 s",
	 B(0, INT64_MAX),
	 .description = "fixed-delay: wait between two restarts."},
	{.key = "restart-strategy.failure-rate.max-failures-per-interval",
	 .type = SLUICE_OPT_INT,
	 .default_value = "1",
	 B(1, INT32_MAX),
	 .description = "failure-rate: restarts allowed within one "
			"failure-rate-interval before the job fails."},
	{.key = "restart-strategy.failure-rate.failure-rate-interval",
	 .type = SLUICE_OPT_DURATION,
	 .default_value = "1 min",
	 B(1, INT64_MAX),
	 .description = "failure-rate: the window in which failures are "
			"counted."},
	{.key = "restart-strategy.failure-rate.delay",
	 .type = SLUICE_OPT_DURATION,
	 .default_value = "1 s",
	 B(0, INT64_MAX),
	 .description = "failure-rate: wait between two restarts."},
	{.key = "restart-strategy.exponential-delay.initial-backoff",
	 .type = SLUICE_OPT_DURATION,
	 .default_value = "1 s",
	 B(1, INT64_MAX),
	 .description = "exponential-delay: first wait."},
	{.key = "restart-strategy.exponential-delay.max-backoff",
	 .type = SLUICE_OPT_DURATION,
	 .default_value = "1 min",
	 B(1, INT64_MAX),
	 .description = "exponential-delay: the wait never grows beyond this "
			"(>= initial-backoff)."},
	{.key = "restart-strategy.exponential-delay.backoff-multiplier",
	 .type = SLUICE_OPT_DOUBLE,
	 .default_value = "1.5",
	 NB,
	 .description = "exponential-delay: the wait is multiplied by this "
			"after each failure (>= 1)."},
	{.key = "restart-strategy.exponential-delay.reset-backoff-threshold",
	 .type = SLUICE_OPT_DURATION,
	 .default_value = "1 h",
	 B(1, INT64_MAX),
	 .description = "exponential-delay: after this long without failure "
			"the wait goes back to initial-backoff."},
	{.key = "restart-strategy.exponential-delay.jitter-factor",
	 .type = SLUICE_OPT_DOUBLE,
	 .default_value = "0.1",
	 NB,
	 .description = "exponential-delay: random +/- fraction of each wait "
			"(0 to 1)."},
	{.key = "restart-strategy.exponential-delay.attempts-before-reset-"
		"backoff",
	 .type = SLUICE_OPT_INT,
	 .default_value = "2147483647",
	 B(1, INT32_MAX),
	 .description = "exponential-delay: restarts allowed before the "
			"backoff is reset, after which the job fails."},
	/* --- parallelism and network --- */
	{.key = "parallelism.default",
	 .type = SLUICE_OPT_INT,
	 .default_value = "1",
	 B(1, INT32_MAX),
	 .description = "Parallelism of operators that do not set one."},
	{.key = "pipeline.max-parallelism",
	 .type = SLUICE_OPT_INT,
	 .default_value = "-1",
	 B(-1, 32768),
	 .description = "Number of key groups, the upper limit of rescaling: "
			"1 to 32768, or -1 to derive it from the parallelism."},
	{.key = "taskmanager.memory.segment-size",
	 .type = SLUICE_OPT_MEMORY,
	 .default_value = "32kb",
	 B(4096, 1LL << 30),
	 .description = "Size of one network buffer (memory segment); a "
			"power of two of at least 4 kb. Records are sent in "
			"buffers of this size."},
	{.key = "taskmanager.network.memory.buffers-per-channel",
	 .type = SLUICE_OPT_INT,
	 .default_value = "2",
	 B(0, INT32_MAX),
	 .description = "Exclusive buffers of each input channel: data "
			"buffers a channel holds in flight before it needs "
			"floating ones. 0 = floating buffers only."},
	{.key = "taskmanager.network.memory.floating-buffers-per-gate",
	 .type = SLUICE_OPT_INT,
	 .default_value = "8",
	 B(0, INT32_MAX),
	 .description = "Floating buffers shared by the channels of one "
			"input gate (an input of a subtask) on top of their "
			"exclusive ones. More buffers in flight mean more "
			"throughput under skew, and slower aligned "
			"checkpoints under backpressure."},
	/* --- object stores --- */
	{.key = "s3.endpoint",
	 .aliases = A("fs.obs.endpoint"),
	 .type = SLUICE_OPT_STRING,
	 NB,
	 .description = "S3 (or OBS) endpoint, e.g. https://s3.amazonaws.com "
			"or http://localhost:9000."},
	{.key = "s3.access-key",
	 .aliases = A("s3.access.key", "fs.obs.access.key"),
	 .type = SLUICE_OPT_STRING,
	 NB,
	 .description = "S3 access key id."},
	{.key = "s3.secret-key",
	 .aliases = A("s3.secret.key", "fs.obs.secret.key"),
	 .type = SLUICE_OPT_STRING,
	 NB,
	 .flags = SLUICE_OPTF_SECRET,
	 .description = "S3 secret access key; never printed."},
	{.key = "s3.path.style.access",
	 .type = SLUICE_OPT_BOOL,
	 .default_value = "false",
	 NB,
	 .description = "Address buckets as endpoint/bucket instead of "
			"bucket.endpoint (MinIO and most S3-compatible "
			"stores)."},
	{.key = "s3.region",
	 .type = SLUICE_OPT_STRING,
	 .default_value = "us-east-1",
	 NB,
	 .description = "Region used to sign S3 requests (Flink passes it "
			"through to the Hadoop S3 client as "
			"fs.s3a.endpoint.region)."},
	{.key = "s3.attempts.maximum",
	 .type = SLUICE_OPT_INT,
	 .default_value = "8",
	 B(1, 100),
	 .description = "Attempts per S3 request (the first and its retries) "
			"on 5xx, SlowDown, timeouts and connection errors, "
			"within 30 s; then the request fails as an I/O "
			"error."},
	{.key = "s3.retry.interval",
	 .type = SLUICE_OPT_DURATION,
	 .default_value = "100 ms",
	 B(1, 60000),
	 .description = "First backoff between S3 attempts; it doubles "
			"(with jitter) up to 5 s."},
	{.key = "s3.entropy.key",
	 .type = SLUICE_OPT_STRING,
	 NB,
	 .description = "Marker in checkpoint paths replaced by random "
			"characters for data files (spreads S3 load)."},
	{.key = "s3.entropy.length",
	 .type = SLUICE_OPT_INT,
	 .default_value = "4",
	 B(1, INT32_MAX),
	 .description = "Number of random characters that replace "
			"s3.entropy.key."},
	{.key = "hadoop.user.name",
	 .type = SLUICE_OPT_STRING,
	 NB,
	 .description = "User name for HDFS (WebHDFS user.name)."},
};

#define NOPTIONS (sizeof(options) / sizeof(options[0]))

size_t sluice_option_count(void)
{
	return NOPTIONS;
}

const sluice_option *sluice_option_at(size_t i)
{
	return i < NOPTIONS ? &options[i] : NULL;
}

const sluice_option *sluice_option_find(const char *key, int *via_alias)
{
	size_t i, j;

	if (via_alias)
		*via_alias = 0;
	if (!key)
		return NULL;
	for (i = 0; i < NOPTIONS; i++)
		if (!strcmp(options[i].key, key))
			return &options[i];
	for (i = 0; i < NOPTIONS; i++) {
		if (!options[i].aliases)
			continue;
		for (j = 0; options[i].aliases[j]; j++) {
			if (strcmp(options[i].aliases[j], key))
				continue;
			if (via_alias)
				*via_alias = 1;
			return &options[i];
		}
	}
	return NULL;
}

const char *sluice_option_type_name(sluice_option_type type)
{
	switch (type) {
	case SLUICE_OPT_BOOL:
		return "bool";
	case SLUICE_OPT_INT:
		return "int";
	case SLUICE_OPT_LONG:
		return "long";
	case SLUICE_OPT_DURATION:
		return "duration";
	case SLUICE_OPT_MEMORY:
		return "memory";
	case SLUICE_OPT_ENUM:
		return "enum";
	case SLUICE_OPT_STRING:
		return "string";
	case SLUICE_OPT_URI:
		return "uri";
	case SLUICE_OPT_DOUBLE:
		return "double";
	case SLUICE_OPT_ENUM_LIST:
		return "enum list";
	}
	return "?";
}

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

static size_t min3(size_t x, size_t y, size_t z)
{
	size_t m = x < y ? x : y;

	return m < z ? m : z;
}

/*
 * Levenshtein distance restricted to the diagonal band |i - j| <= max
 * (Ukkonen): cells outside it are "more than max", so the cost is
 * O(len * max) instead of O(len^2).
 */
size_t sluice__edit_distance(const char *a, const char *b, size_t max)
{
	size_t la = strlen(a), lb = strlen(b), i, j, jlo, jhi;
	size_t row[256], inf = max + 1, prev, cur, low;

	if ((la > lb ? la - lb : lb - la) > max)
		return inf;
	if (la >= 256 || lb >= 256)
		return inf;
	for (j = 0; j <= lb; j++)
		row[j] = j <= max ? j : inf;
	for (i = 1; i <= la; i++) {
		jlo = i > max ? i - max : 1;
		jhi = i + max < lb ? i + max : lb;
		prev = row[jlo - 1];
		row[jlo - 1] = jlo == 1 && i <= max ? i : inf;
		low = row[jlo - 1];
		for (j = jlo; j <= jhi; j++) {
			cur = row[j];
			row[j] =
				min3(prev + (lower((unsigned char)a[i - 1]) !=
					     lower((unsigned char)b[j - 1])),
				     row[j - 1] + 1, cur + 1);
			if (row[j] > inf)
				row[j] = inf;
			if (row[j] < low)
				low = row[j];
			prev = cur;
		}
		if (low > max)
			return inf;
	}
	return row[lb];
}

static void
consider(const char *cand, const char *key, const char **best, size_t *bestd)
{
	size_t lc = strlen(cand), lk = strlen(key), d;

	/* the length difference bounds the distance from below */
	if ((lc > lk ? lc - lk : lk - lc) >= *bestd)
		return;
	d = sluice__edit_distance(key, cand, *bestd);
	if (d < *bestd) {
		*bestd = d;
		*best = cand;
	}
}

const char *sluice_option_closest(const char *key)
{
	const char *best = NULL;
	size_t bestd, i, j, limit;

	if (!key || !*key)
		return NULL;
	/* Close enough to be a typo: a third of the key, from 3 to 8. */
	limit = strlen(key) / 3;
	if (limit < 3)
		limit = 3;
	if (limit > 8)
		limit = 8;
	bestd = limit + 1;
	for (i = 0; i < NOPTIONS; i++) {
		consider(options[i].key, key, &best, &bestd);
		for (j = 0; options[i].aliases && options[i].aliases[j]; j++)
			consider(options[i].aliases[j], key, &best, &bestd);
	}
	return best;
}

static int contains_ci(const char *hay, const char *needle)
{
	size_t n = strlen(needle), i, j;

	for (i = 0; hay[i]; i++) {
		for (j = 0; j < n && hay[i + j]; j++)
			if (tolower((unsigned char)hay[i + j]) != needle[j])
				break;
		if (j == n)
			return 1;
	}
	return 0;
}

int sluice_config_is_sensitive(const char *key)
{
	static const char *const words[] = {
		"password",
		"secret",
		"token",
		"apikey",
		"api-key",
		"auth-params",
		"service-key",
		"basic-auth",
		"jaas.config",
		"http-headers",
		"fs.azure.account.key"};
	const sluice_option *opt;
	size_t i;

	if (!key)
		return 0;
	opt = sluice_option_find(key, NULL);
	if (opt)
		return (opt->flags & SLUICE_OPTF_SECRET) != 0;
	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (contains_ci(key, words[i]))
			return 1;
	return 0;
}
