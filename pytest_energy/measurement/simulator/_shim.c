/* Callgrind client requests for the simulated energy meter.
 *
 * Each function is a thin wrapper around one macro of <valgrind/callgrind.h>.
 * Outside valgrind every request is a handful of no-op instructions, so the
 * library is safe to load in any process.
 */
#include <valgrind/valgrind.h>
#include <valgrind/callgrind.h>

int running_on_valgrind(void) { return RUNNING_ON_VALGRIND; }
void zero_stats(void) { CALLGRIND_ZERO_STATS; }
void start_instrumentation(void) { CALLGRIND_START_INSTRUMENTATION; }
void stop_instrumentation(void) { CALLGRIND_STOP_INSTRUMENTATION; }
void dump_stats_at(const char *name) { CALLGRIND_DUMP_STATS_AT(name); }
