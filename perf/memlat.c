/*
 * memlat: what a random cache-line read of a big table costs on this
 * machine, in 4 KiB pages and in transparent huge pages (perf/README.md,
 * "Huge pages and lagged lookups").
 *
 *   cc -O2 -o /tmp/memlat perf/memlat.c
 *   taskset -c 1 /tmp/memlat 16 64     # table sizes in MiB
 *
 * For each size and page kind it prints TSC cycles per read for
 *   independent  reads at random lines that the core can overlap (what a
 *                worker with prefetches does at best),
 *   dependent    reads whose address depends on the previous read (the
 *                full latency of a miss).
 * AnonHugePages says whether the kernel gave huge pages (it may not, when
 * /sys/kernel/mm/transparent_hugepage/enabled is "never").
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <x86intrin.h>

#define HUGE (2UL << 20)
#define READS (1UL << 22)

static size_t huge_kb(void)
{
    FILE *f = fopen("/proc/self/smaps_rollup", "r");
    char l[256];
    size_t kb = 0;
    while (f && fgets(l, sizeof l, f))
        if (sscanf(l, "AnonHugePages: %zu kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb;
}

static void run(size_t mib, int huge, const uint32_t *idx)
{
    /* Whole huge pages, as las allocates its tables (src/mem.rs). */
    size_t sz = mib << 20, lines = sz / 64, map = (sz + HUGE - 1) / HUGE * HUGE;
    char *p = mmap(0, map + HUGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        perror("mmap");
        exit(1);
    }
    char *a = (char *)(((uintptr_t)p + HUGE - 1) & ~(HUGE - 1));
    madvise(a, map, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
    memset(a, 1, sz);
    size_t got = huge_kb();
    uint64_t sum = 0, t0 = __rdtsc();
    for (size_t i = 0; i < READS; i++)
        sum += a[(size_t)(idx[i] % lines) * 64];
    uint64_t t1 = __rdtsc();
    size_t k = 0;
    for (size_t i = 0; i < READS / 8; i++)
        k = (idx[i] + (size_t)a[(k % lines) * 64]) % lines;
    uint64_t t2 = __rdtsc();
    printf("%5zu MiB  %-5s pages  independent %6.1f  dependent %6.1f cycles/read  (AnonHugePages %zu kB)%s\n",
           mib, huge ? "2 MiB" : "4 KiB", (double)(t1 - t0) / READS, (double)(t2 - t1) / (READS / 8),
           got, (sum + k) == 42 ? " " : "");
    munmap(p, map + HUGE);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s MiB [MiB...]\n", argv[0]);
        return 2;
    }
    uint32_t *idx = malloc(READS * sizeof *idx);
    uint64_t x = 88172645463325252ULL;
    for (size_t i = 0; i < READS; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        idx[i] = (uint32_t)x;
    }
    for (int i = 1; i < argc; i++) {
        size_t mib = strtoul(argv[i], 0, 10);
        if (mib == 0 || mib > 65536) {
            fprintf(stderr, "memlat: size %s: expected 1..65536 MiB\n", argv[i]);
            return 2;
        }
        run(mib, 0, idx);
        run(mib, 1, idx);
    }
    return 0;
}
