/*
 * hold_port - open a port and keep it open until killed, for the test
 * scripts (vale-ctl must refuse to remove or move a port that is open).
 *
 *   hold_port PORT
 *
 * Prints "ready" on stdout once the port is registered; exits 1 with the
 * library's message if it cannot be opened.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>
#include <unistd.h>

#include <nmkit/nmkit.h>

int main(int argc, char **argv)
{
	char err[NMK_ERRBUF_SIZE];
	struct nmk_port *p;

	if (argc != 2) {
		fprintf(stderr, "usage: hold_port PORT\n");
		return 2;
	}
	p = nmk_port_open(argv[1], err);
	if (p == NULL) {
		fprintf(stderr, "hold_port: %s\n", err);
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	for (;;)
		pause();
}
