/*
 * ae_names.h — the names users write for the core's enumerations:
 * activations, losses, denoising noises, normalisations and optimisers.
 * One table per enumeration, used by everything that parses or prints one
 * (the training options, the model import, the export, the catalog views).
 *
 * The matching rule, the same everywhere: a name matches when it equals
 * the canonical name up to ASCII letter case ("ReLU", "ZScore" and "ADAM"
 * are accepted); nothing is trimmed or abbreviated.  The canonical name is
 * lower case, and it is the one stored and printed.  ASCII only, so the
 * rule does not depend on the server's locale.
 */
#ifndef AE_NAMES_H
#define AE_NAMES_H

#include "ae_core.h"

typedef struct AeName
{
	const char *name;			/* canonical, lower case */
	int			value;			/* the enumeration's value */
} AeName;

/* Each table ends with {NULL, 0}, in the order error messages list them. */
extern const AeName ae_activation_names[];	/* AeActivation */
extern const AeName ae_loss_names[];	/* AeLoss */
extern const AeName ae_noise_names[];	/* AeNoise */
extern const AeName ae_norm_names[];	/* AeNormMethod */
extern const AeName ae_optimizer_names[];	/* AeOptimizerKind */

/* The canonical name of value, or NULL when the table has none. */
const char *ae_name_of(const AeName *table, int value);

/* True and *value set when name matches an entry (the rule above). */
bool		ae_name_parse(const AeName *table, const char *name, int *value);

/* The matching rule itself: equal up to ASCII letter case. */
bool		ae_name_equal(const char *a, const char *b);

/*
 * The canonical names joined for an error message, "a, b or c", into buf
 * (size bytes, always NUL-terminated when size > 0).  Returns buf.
 */
char	   *ae_name_list(const AeName *table, char *buf, size_t size);

#endif							/* AE_NAMES_H */
