/*
 * ThreadSanitizer suppressions built into every test binary of this
 * directory.  Debian's librocksdb is not built with TSan: the atomics of its
 * lock-free memtable and block cache are invisible, so memory operations
 * it performs itself look like races.  Reports with a librocksdb frame are
 * ignored; RocksDB's locks stay intercepted, so races in our own code
 * (outside RocksDB's call stacks) are still found.
 */
const char *__tsan_default_suppressions(void);

const char *__tsan_default_suppressions(void)
{
	return "race:librocksdb.so\n";
}
