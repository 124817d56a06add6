// `coordinator crypto …` hands over to the `bok-crypto` beside it before the Swift runtime starts (handover.c).
// Nothing to call: the work is done by a constructor that runs when the coordinator is loaded.
#ifndef BOK_CRYPTO_HANDOVER_H
#define BOK_CRYPTO_HANDOVER_H
#endif
