/*
 * Shared helpers for benchmark programs: a monotonic timer, a fixed-seed
 * RNG, median and spread of measured rounds, and the JSON result line every
 * benchmark prints (see bench/RESULTS.md for the conventions).  Header-only
 * so each bench_*.c stays one self-contained program.
 */
#ifndef SLUICE_BENCH_UTIL_H
#define SLUICE_BENCH_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static inline double bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* splitmix64: a fixed-seed generator, the same on every run */
static inline uint64_t bench_rand(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static inline int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Median of n values (sorts them); *spread = (max - min) / median. */
static inline double bench_median(double *v, int n, double *spread)
{
	double med;

	qsort(v, (size_t)n, sizeof(*v), bench_cmp_double);
	med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	if (spread)
		*spread = med > 0 ? (v[n - 1] - v[0]) / med : 0;
	return med;
}

#endif
