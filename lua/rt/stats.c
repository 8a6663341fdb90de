/*
 * stats.c - shared counters and the reporter thread (see stats.h).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "stats.h"
#include "clock.h"
#include "task.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nmkit/nmkit.h>
#include <nmkit/nmk_util.h>

#define MAX_COUNTERS 1024

static pthread_mutex_t counter_lock = PTHREAD_MUTEX_INITIALIZER;
static struct nmlua_counter *counters[MAX_COUNTERS];
static atomic_int ncounters;

struct nmlua_counter *nmlua_counter_new(const char *name, int rx)
{
	struct nmlua_counter *c = NULL;

	if (name == NULL || strlen(name) >= sizeof(c->name))
		return NULL;
	pthread_mutex_lock(&counter_lock);
	int n = atomic_load(&ncounters);
	if (n < MAX_COUNTERS && posix_memalign((void **)&c, 64, sizeof(*c)) == 0) {
		memset(c, 0, sizeof(*c));
		snprintf(c->name, sizeof(c->name), "%s", name);
		c->rx = rx ? 1 : 0;
		c->id = n;
		c->t_start = nmlua_elapsed();
		counters[n] = c;
		/* Published after it is filled: the reporter reads only
		 * counters below ncounters. */
		atomic_store(&ncounters, n + 1);
	}
	pthread_mutex_unlock(&counter_lock);
	return c;
}

struct nmlua_counter *nmlua_counter_get(int id)
{
	return id >= 0 && id < atomic_load(&ncounters) ? counters[id] : NULL;
}

int nmlua_counter_count(void)
{
	return atomic_load(&ncounters);
}

/* ---- the reporter ------------------------------------------------------------ */

/* One line of the report: the counters of one name, summed. */
struct group {
	char name[64];
	int rx;
	double offered, sent, received, dropped, lost, bytes;
};

struct reporter {
	pthread_t thread;
	FILE *out;
	int own_file;
	int format;             /* 0 text, 1 csv, 2 json */
	double every;
	atomic_int quit;
	int running;
	struct group prev[MAX_COUNTERS];
	int nprev;
	double t_prev;
};

static struct reporter rep;
static pthread_mutex_t rep_lock = PTHREAD_MUTEX_INITIALIZER;

static int snapshot(struct group *g)
{
	int n = 0, total = nmlua_counter_count();

	for (int i = 0; i < total; i++) {
		const struct nmlua_counter *c = counters[i];
		int k;
		for (k = 0; k < n; k++)
			if (strcmp(g[k].name, c->name) == 0)
				break;
		if (k == n) {
			memset(&g[n], 0, sizeof(g[n]));
			memcpy(g[n].name, c->name, sizeof(g[n].name));
			g[n].rx = c->rx;
			n++;
		}
		/* Plain loads of values that one writer stores whole. */
		g[k].offered += c->offered;
		g[k].sent += c->sent;
		g[k].received += c->received;
		g[k].dropped += c->dropped;
		g[k].lost += c->lost;
		g[k].bytes += c->bytes;
	}
	return n;
}

static void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

static void print_group(const struct group *now, const struct group *was, double t, double dt)
{
	double frames = now->rx ? now->received - was->received : now->sent - was->sent;
	double mpps = dt > 0 ? frames / dt / 1e6 : 0;
	double gbps = dt > 0 ? (now->bytes - was->bytes) * 8 / dt / 1e9 : 0;
	FILE *f = rep.out;

	switch (rep.format) {
	case 1:
		fprintf(f, "%.3f,%s,%s,%.6f,%.6f,%.0f,%.0f,%.0f,%.0f,%.0f,%.0f\n", t, now->name,
			now->rx ? "rx" : "tx", mpps, gbps, now->offered, now->sent, now->received,
			now->dropped, now->lost, now->bytes);
		break;
	case 2:
		fprintf(f, "{\"time\":%.3f,\"counter\":", t);
		json_string(f, now->name);
		fprintf(f, ",\"dir\":\"%s\",\"mpps\":%.6f,\"gbps\":%.6f,\"offered\":%.0f,\"sent\":%.0f,"
			"\"received\":%.0f,\"dropped\":%.0f,\"lost\":%.0f,\"bytes\":%.0f}\n",
			now->rx ? "rx" : "tx", mpps, gbps, now->offered, now->sent, now->received,
			now->dropped, now->lost, now->bytes);
		break;
	default:
		/* The totals that matter for the direction: a sender's frames
		 * and what it offered (as many as it sent, if it does not say),
		 * a receiver's and what did not reach it. */
		if (now->rx)
			fprintf(f, "[%7.2f s] %-24s %9.3f Mpps %8.3f Gbit/s  received %.0f dropped %.0f lost %.0f\n",
				t, now->name, mpps, gbps, now->received, now->dropped, now->lost);
		else
			fprintf(f, "[%7.2f s] %-24s %9.3f Mpps %8.3f Gbit/s  sent %.0f offered %.0f\n", t,
				now->name, mpps, gbps, now->sent,
				now->offered > now->sent ? now->offered : now->sent);
	}
}

static void report_once(void)
{
	static struct group now[MAX_COUNTERS];
	double t = nmlua_elapsed(), dt = t - rep.t_prev;
	int n = snapshot(now);

	for (int i = 0; i < n; i++) {
		static const struct group zero;
		const struct group *was = &zero;
		for (int k = 0; k < rep.nprev; k++)
			if (strcmp(rep.prev[k].name, now[i].name) == 0)
				was = &rep.prev[k];
		print_group(&now[i], was, t, dt);
	}
	fflush(rep.out);
	memcpy(rep.prev, now, sizeof(now[0]) * (size_t)n);
	rep.nprev = n;
	rep.t_prev = t;
}

static void *report_main(void *arg)
{
	(void)arg;
	double next = nmlua_elapsed() + rep.every;

	while (!atomic_load(&rep.quit)) {
		double left = next - nmlua_elapsed();
		if (left > 0) {
			struct timespec req = { 0, (long)((left > 0.05 ? 0.05 : left) * 1e9) };
			nanosleep(&req, NULL);
			continue;
		}
		report_once();
		next += rep.every;
	}
	return NULL;
}

int nmlua_report_start(double every, int format, const char *path, char *err)
{
	if (!(every >= 0.01) || format < 0 || format > 2) {
		nmk_errbuf(err, NMK_ERRBUF_SIZE, "bad report interval %g s or format %d", every, format);
		return -EINVAL;
	}
	pthread_mutex_lock(&rep_lock);
	if (rep.running) {
		pthread_mutex_unlock(&rep_lock);
		nmk_errbuf(err, NMK_ERRBUF_SIZE, "a reporter is running already");
		return -EBUSY;
	}
	FILE *out = stdout;
	if (path != NULL && (out = fopen(path, "w")) == NULL) {
		int e = errno;
		pthread_mutex_unlock(&rep_lock);
		nmk_errbuf(err, NMK_ERRBUF_SIZE, "%s: %s", path, strerror(e));
		return -e;
	}
	rep.out = out;
	rep.own_file = path != NULL;
	rep.format = format;
	rep.every = every;
	rep.nprev = 0;
	rep.t_prev = nmlua_elapsed();
	atomic_store(&rep.quit, 0);
	if (format == 1)
		fprintf(out, "time,counter,dir,mpps,gbps,offered,sent,received,dropped,lost,bytes\n");
	int e = pthread_create(&rep.thread, NULL, report_main, NULL);
	if (e != 0) {
		if (rep.own_file)
			fclose(out);
		pthread_mutex_unlock(&rep_lock);
		nmk_errbuf(err, NMK_ERRBUF_SIZE, "cannot start the reporter: %s", strerror(e));
		return -e;
	}
	rep.running = 1;
	pthread_mutex_unlock(&rep_lock);
	return 0;
}

void nmlua_report_stop(void)
{
	pthread_mutex_lock(&rep_lock);
	if (rep.running) {
		atomic_store(&rep.quit, 1);
		pthread_join(rep.thread, NULL);
		/* The interval in progress is left out: it spans the stop
		 * and the drain, and the summary says the rest. */
		if (rep.own_file)
			fclose(rep.out);
		else
			fflush(rep.out);
		rep.running = 0;
	}
	pthread_mutex_unlock(&rep_lock);
}
