// libssh (Debian's libssh-dev): the server, SFTP server and key APIs report delivery uses.
// sftp.h declares its server half only under WITH_SERVER (Debian's libssh is built with it).
#define WITH_SERVER 1
#include <libssh/libssh.h>
#include <libssh/server.h>
#include <libssh/callbacks.h>
#include <libssh/sftp.h>
