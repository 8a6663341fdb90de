/*
 * pcap.c - capture files through libpcap (see pcap.h).
 *
 * Everything about the file format is libpcap's: the writer is a dumper on
 * a "dead" handle of Ethernet link type, the reader an offline handle.
 * Nanoseconds: a dead handle made with nanosecond precision makes
 * pcap_dump_open() write the nanosecond magic, and pcap_dump() then writes
 * ts.tv_usec as it is, so that field carries nanoseconds.  A reader opened
 * with nanosecond precision gets nanoseconds in ts.tv_usec from files of
 * either kind (libpcap scales microsecond files up).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "pcap.h"
#include "clock.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The size of the err buffers of pcap.h. */
#define ERR_SIZE 256

struct nmlua_pcap_writer {
	pcap_t *dead;
	pcap_dumper_t *dumper;
	FILE *f;
	uint32_t snaplen;
	int nanos;
	int error;              /* the errno of the first failed write, or 0 */
	double written;
	double max;             /* 0: no cap */
};

struct nmlua_pcap_reader {
	pcap_t *p;              /* NULL after a failed rewind */
	char *path;             /* to open again for a rewind */
	int nanos;              /* ts.tv_usec holds nanoseconds */
};

static void set_err(char *err, const char *msg)
{
	if (err != NULL)
		snprintf(err, ERR_SIZE, "%s", msg);
}

struct nmlua_pcap_writer *nmlua_pcap_writer_open(const char *path, int nanos, uint32_t snaplen,
						 double max_frames, char *err)
{
	struct nmlua_pcap_writer *w = calloc(1, sizeof(*w));

	if (w == NULL) {
		set_err(err, strerror(ENOMEM));
		return NULL;
	}
	w->snaplen = snaplen ? snaplen : 65535;
	w->nanos = nanos ? 1 : 0;
	w->max = max_frames > 0 ? max_frames : 0;
	w->dead = pcap_open_dead_with_tstamp_precision(DLT_EN10MB, (int)w->snaplen,
						       w->nanos ? PCAP_TSTAMP_PRECISION_NANO
								: PCAP_TSTAMP_PRECISION_MICRO);
	if (w->dead == NULL) {
		set_err(err, "pcap_open_dead failed (out of memory?)");
		free(w);
		return NULL;
	}
	w->dumper = pcap_dump_open(w->dead, path);
	if (w->dumper == NULL) {
		set_err(err, pcap_geterr(w->dead));
		pcap_close(w->dead);
		free(w);
		return NULL;
	}
	w->f = pcap_dump_file(w->dumper);
	return w;
}

int nmlua_pcap_write(struct nmlua_pcap_writer *w, const uint8_t *frame, uint32_t len, uint64_t ts_ns)
{
	struct pcap_pkthdr h;

	if (w->error)
		return -w->error;
	if (w->max > 0 && w->written >= w->max)
		return 0;
	if (ts_ns == 0)
		ts_ns = nmlua_wall_ns();
	h.ts.tv_sec = (time_t)(ts_ns / 1000000000u);
	h.ts.tv_usec = (suseconds_t)(w->nanos ? ts_ns % 1000000000u : ts_ns % 1000000000u / 1000u);
	h.caplen = len < w->snaplen ? len : w->snaplen;
	h.len = len;
	errno = 0;
	pcap_dump((u_char *)w->dumper, &h, frame);
	/* pcap_dump() says nothing; the stream's error flag does, and it
	 * stays set, so a short write is never followed by a good one. */
	if (ferror(w->f)) {
		w->error = errno ? errno : EIO;
		return -w->error;
	}
	w->written += 1;
	return 1;
}

double nmlua_pcap_written(const struct nmlua_pcap_writer *w)
{
	return w->written;
}

int nmlua_pcap_writer_close(struct nmlua_pcap_writer *w)
{
	if (w == NULL)
		return 0;
	int rc = -w->error;
	errno = 0;
	if (pcap_dump_flush(w->dumper) != 0 || ferror(w->f))
		rc = rc ? rc : -(errno ? errno : EIO);
	/* pcap_dump_close() does not tell whether fclose() worked; after
	 * the flush, everything has reached the kernel at least. */
	pcap_dump_close(w->dumper);
	pcap_close(w->dead);
	free(w);
	return rc;
}

static pcap_t *open_offline(struct nmlua_pcap_reader *r, char *err)
{
	char ebuf[PCAP_ERRBUF_SIZE];

	ebuf[0] = '\0';
	pcap_t *p = pcap_open_offline_with_tstamp_precision(r->path, PCAP_TSTAMP_PRECISION_NANO, ebuf);
	if (p == NULL) {
		set_err(err, ebuf[0] ? ebuf : "cannot open the capture");
		return NULL;
	}
	r->nanos = pcap_get_tstamp_precision(p) == PCAP_TSTAMP_PRECISION_NANO;
	return p;
}

struct nmlua_pcap_reader *nmlua_pcap_reader_open(const char *path, char *err)
{
	struct nmlua_pcap_reader *r = calloc(1, sizeof(*r));

	if (r == NULL || (r->path = strdup(path)) == NULL) {
		free(r);
		set_err(err, strerror(ENOMEM));
		return NULL;
	}
	r->p = open_offline(r, err);
	if (r->p == NULL) {
		free(r->path);
		free(r);
		return NULL;
	}
	return r;
}

int nmlua_pcap_next(struct nmlua_pcap_reader *r, const uint8_t **frame, uint32_t *len,
		    uint32_t *wire_len, uint64_t *ts_ns, char *err)
{
	struct pcap_pkthdr *h;
	const u_char *data;

	if (r->p == NULL) {
		set_err(err, "the capture could not be opened again");
		return -EBADF;
	}
	int rc = pcap_next_ex(r->p, &h, &data);
	if (rc == PCAP_ERROR_BREAK)
		return 0;
	if (rc != 1) {
		set_err(err, pcap_geterr(r->p));
		return -EIO;
	}
	*frame = data;
	*len = h->caplen;
	*wire_len = h->len;
	uint64_t sec = h->ts.tv_sec > 0 ? (uint64_t)h->ts.tv_sec : 0;
	uint64_t sub = h->ts.tv_usec > 0 ? (uint64_t)h->ts.tv_usec : 0;
	*ts_ns = sec * 1000000000u + (r->nanos ? sub : sub * 1000u);
	return 1;
}

int nmlua_pcap_rewind(struct nmlua_pcap_reader *r, char *err)
{
	/* libpcap cannot seek back in a capture; opening it again is the
	 * one way that works for every format it reads. */
	if (strcmp(r->path, "-") == 0) {
		set_err(err, "standard input cannot be rewound");
		return -ESPIPE;
	}
	if (r->p != NULL)
		pcap_close(r->p);
	r->p = open_offline(r, err);
	return r->p != NULL ? 0 : -EIO;
}

int nmlua_pcap_linktype(const struct nmlua_pcap_reader *r)
{
	return r->p != NULL ? pcap_datalink(r->p) : -1;
}

void nmlua_pcap_reader_close(struct nmlua_pcap_reader *r)
{
	if (r == NULL)
		return;
	if (r->p != NULL)
		pcap_close(r->p);
	free(r->path);
	free(r);
}
