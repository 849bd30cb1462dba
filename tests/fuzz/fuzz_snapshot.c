/*
 * libFuzzer target for the keyed snapshot reader (docs/format/snapshot.md)
 * and the operator state reader: any bytes must restore or fail with a
 * message, never crash, hang or leak.
 *
 * Input: u8 n (key groups, 1..128), n big-endian u32 offsets, then the
 * stream.  The handle covers key groups [0, n) of max parallelism 128;
 * the same stream is also read as an operator state stream with one SPLIT
 * state whose elements sit at those offsets.
 */
#include <stdint.h>
#include <string.h>

#include "sluice/state.h"
#include "util/alloc.h"
#include "util/hash.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
open_raw(void *ctx, const sluice_stream_handle *h, sluice_istream **out)
{
	(void)ctx;
	return sluice_mem_istream_new(out, h->data, (size_t)h->size);
}

static void keyed(const uint64_t *offsets, uint32_t n, sluice_stream_handle *s)
{
	sluice_keyed_options o;
	sluice_keyed_backend *kb;
	sluice_keyed_handle h;
	const sluice_keyed_handle *hs[1] = {&h};

	sluice_keyed_options_init(&o);
	o.max_parallelism = 128;
	if (sluice_keyed_backend_new(&kb, &o) < 0)
		return;
	h.start_key_group = 0;
	h.num_key_groups = (int32_t)n;
	h.offsets = (uint64_t *)offsets;
	h.stream = s;
	if (sluice_keyed_backend_restore(kb, hs, 1, open_raw, NULL) < 0 &&
	    !sluice_error_last()->message[0])
		__builtin_trap(); /* failures always say why */
	sluice_keyed_backend_free(kb);
}

static void operator(uint64_t *offsets, uint32_t n, sluice_stream_handle *s)
{
	sluice_operator_state *os;
	sluice_opstate_entry e = {
		(char *)"fuzz", SLUICE_OPSTATE_SPLIT, n, offsets};
	sluice_opstate_handle h = {1, &e, s};
	const sluice_opstate_handle *hs[1] = {&h};

	if (sluice_operator_state_new(&os) < 0)
		return;
	sluice_operator_state_restore(os, hs, 1, open_raw, NULL);
	sluice_operator_state_free(os);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t offsets[128];
	sluice_stream_handle s;
	uint32_t n, i;

	if (size < 1)
		return 0;
	n = data[0] % 128 + 1;
	if (size < 1 + 4 * (size_t)n)
		return 0;
	for (i = 0; i < n; i++)
		offsets[i] = ((uint64_t)data[1 + 4 * i] << 24) |
			     ((uint64_t)data[2 + 4 * i] << 16) |
			     ((uint64_t)data[3 + 4 * i] << 8) | data[4 + 4 * i];
	data += 1 + 4 * (size_t)n;
	size -= 1 + 4 * (size_t)n;
	memset(&s, 0, sizeof(s));
	s.kind = SLUICE_HANDLE_INLINE;
	s.path = (char *)"fuzz";
	s.size = size;
	s.checksum = sluice__xxh3(data, size);
	s.data = (uint8_t *)data;
	keyed(offsets, n, &s);
	operator(offsets, n, &s);
	return 0;
}
