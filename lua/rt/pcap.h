/*
 * pcap.h - capture files through libpcap: a writer with nanosecond (or
 * microsecond) timestamps and a frame cap, and a reader that gives each
 * frame with its timestamp, for replay with the capture's own timing.
 */
#ifndef NMLUA_PCAP_H
#define NMLUA_PCAP_H

#include <stdint.h>

/* ffi:begin */
struct nmlua_pcap_writer;
struct nmlua_pcap_reader;
/* Open `path` for writing (Ethernet frames); nanos 1: nanosecond
 * timestamps; snaplen 0: 65535; max_frames 0: no cap.  NULL with a message
 * in err (256 bytes) on failure. */
struct nmlua_pcap_writer *nmlua_pcap_writer_open(const char *path, int nanos, uint32_t snaplen,
						 double max_frames, char *err);
/* Write one frame stamped `ts_ns` (CLOCK_REALTIME nanoseconds; 0: now).
 * 1 written, 0 the cap is reached, negative errno on failure. */
int nmlua_pcap_write(struct nmlua_pcap_writer *w, const uint8_t *frame, uint32_t len, uint64_t ts_ns);
double nmlua_pcap_written(const struct nmlua_pcap_writer *w);
/* Flush and close: 0, or a negative errno when the file could not be
 * written completely. */
int nmlua_pcap_writer_close(struct nmlua_pcap_writer *w);

/* Open a capture (any libpcap format) for reading; NULL with a message in
 * err.  Timestamps come back in nanoseconds whatever the file holds. */
struct nmlua_pcap_reader *nmlua_pcap_reader_open(const char *path, char *err);
/* The next frame: 1 with *frame, *len (captured bytes), *wire_len and
 * *ts_ns set (valid until the next call), 0 at the end, negative errno on
 * a damaged file (message in err). */
int nmlua_pcap_next(struct nmlua_pcap_reader *r, const uint8_t **frame, uint32_t *len,
		    uint32_t *wire_len, uint64_t *ts_ns, char *err);
/* Start again from the first frame: 0 or a negative errno. */
int nmlua_pcap_rewind(struct nmlua_pcap_reader *r, char *err);
int nmlua_pcap_linktype(const struct nmlua_pcap_reader *r);
void nmlua_pcap_reader_close(struct nmlua_pcap_reader *r);
/* ffi:end */

#endif
