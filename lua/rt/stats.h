/*
 * stats.h - counters shared between the tasks of a run, and the reporter
 * that prints them every interval.
 *
 * Each counter has one writer (the task that made it), which adds to the
 * double fields with plain stores once per batch: no lock, no atomic
 * read-modify-write, and a reader (the reporter thread) sees a value at
 * most one batch old.  Doubles count exactly up to 2^53.  A counter lives
 * until the process ends, so the reporter never reads freed memory.
 */
#ifndef NMLUA_STATS_H
#define NMLUA_STATS_H

#include <stdint.h>

/* ffi:begin */
struct nmlua_counter {
	double offered;                 /* frames the generator wanted to send */
	double sent;                    /* frames accepted by the TX ring */
	double received;                /* frames taken from an RX ring */
	double dropped;                 /* frames lost on the way (full rings) */
	double lost;                    /* sequence numbers never seen */
	double bytes;                   /* bytes of the frames sent or received */
	double t_start;                 /* nmlua_elapsed() when it was made */
	int32_t id;
	int32_t rx;                     /* 1: a receiver's counter (rates of received) */
	char name[64];
	uint8_t pad_[24];               /* one writer, its own cache lines */
};
/* A new counter; names may repeat (tasks' counters of one name are shown
 * as one).  NULL when there are too many or the name is too long. */
struct nmlua_counter *nmlua_counter_new(const char *name, int rx);
struct nmlua_counter *nmlua_counter_get(int id);
int nmlua_counter_count(void);
/* Print every `every` seconds, as text (0), CSV (1) or JSON lines (2), to
 * `path` (NULL: stdout).  0, or a negative errno with a message in err. */
int nmlua_report_start(double every, int format, const char *path, char *err);
/* Stop the reporter (the interval in progress is not printed). */
void nmlua_report_stop(void);
/* ffi:end */

#endif
