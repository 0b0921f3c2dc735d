// GPGME (Debian's libgpgme-dev): OpenPGP encryption through GnuPG.
#include <gpgme.h>
