/*
 * ae_sample.h — bounded-memory sampling for training from a stream of rows
 * (ae_train with data 'stream'): the shuffle buffer and the reservoir.
 * Both hold caller-provided memory and allocate nothing.
 *
 * Shuffle buffer of cap rows of width d: the first cap rows fill it; every
 * later row takes the place of a uniformly chosen one, which leaves (is
 * copied out); at the end of the stream ae_shufbuf_drain gives the order in
 * which the rows still held leave (a fresh uniform permutation).  Every row
 * leaves exactly once.  A row can leave at most cap places earlier than it
 * arrived, any number later: a local shuffle, uniform only when cap is at
 * least the number of rows.
 *
 * Reservoir of cap floats (algorithm R): after n values it holds a uniform
 * sample of min(n, cap) of them; below cap, all of them in arrival order.
 */
#ifndef AE_SAMPLE_H
#define AE_SAMPLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ae_rng.h"

typedef struct AeShuffleBuf
{
	float	   *rows;			/* (cap, d) */
	uint32_t   *perm;			/* (cap) */
	size_t		cap;
	size_t		n;				/* rows held */
	int			d;
	AeRng	   *rng;
} AeShuffleBuf;

void		ae_shufbuf_init(AeShuffleBuf *b, float *rows, uint32_t *perm, size_t cap, int d, AeRng *rng);

/*
 * Add row (d floats).  When the buffer was full, the row that leaves is
 * copied to out (d floats) and true is returned; while it fills, false.
 */
bool		ae_shufbuf_push(AeShuffleBuf *b, const float *row, float *out);

/*
 * The end of the stream: returns how many rows are left; they leave in the
 * order b->rows + b->perm[i] * d, i = 0 .. returned - 1.  The buffer is
 * empty afterwards (the rows stay readable until the next push).
 */
size_t		ae_shufbuf_drain(AeShuffleBuf *b);

typedef struct AeReservoir
{
	float	   *values;			/* (cap) */
	size_t		cap;
	uint64_t	seen;
	AeRng	   *rng;
} AeReservoir;

void		ae_reservoir_init(AeReservoir *r, float *values, size_t cap, AeRng *rng);
void		ae_reservoir_add(AeReservoir *r, float v);
/* values held: min(seen, cap) */
size_t		ae_reservoir_size(const AeReservoir *r);

#endif							/* AE_SAMPLE_H */
