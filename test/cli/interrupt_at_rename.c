/*===- interrupt_at_rename.c - SIGINT at a set point, for output_safety.sh -===*
 *
 * Preloaded (LD_PRELOAD) into `birkhoff compile`: when the process renames a
 * finished temporary into place (a name holding ".partial."), it raises
 * SIGINT first, so the interrupt comes while that temporary is whole, every
 * time. INTERRUPT_RENAMING says which: "file" (the artifact,
 * <target>.partial.<pid>.<n>) or "folder" (the --dump-kernels folder,
 * DIR.partial.<pid>). Every other rename goes through untouched.
 *
 *===----------------------------------------------------------------------===*/
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void interruptBeforeRename(int dir, const char *from) {
  const char *kind = getenv("INTERRUPT_RENAMING");
  struct stat st;
  if (!kind || !strstr(from, ".partial.") || fstatat(dir, from, &st, 0) != 0)
    return;
  if ((strcmp(kind, "folder") == 0 && S_ISDIR(st.st_mode)) ||
      (strcmp(kind, "file") == 0 && S_ISREG(st.st_mode)))
    raise(SIGINT);
}

int rename(const char *from, const char *to) {
  interruptBeforeRename(AT_FDCWD, from);
  int (*real)(const char *, const char *) =
      (int (*)(const char *, const char *))dlsym(RTLD_NEXT, "rename");
  return real(from, to);
}

int renameat(int fromDir, const char *from, int toDir, const char *to) {
  interruptBeforeRename(fromDir, from);
  int (*real)(int, const char *, int, const char *) =
      (int (*)(int, const char *, int, const char *))dlsym(RTLD_NEXT,
                                                           "renameat");
  return real(fromDir, from, toDir, to);
}

int renameat2(int fromDir, const char *from, int toDir, const char *to,
              unsigned flags) {
  interruptBeforeRename(fromDir, from);
  int (*real)(int, const char *, int, const char *, unsigned) =
      (int (*)(int, const char *, int, const char *, unsigned))dlsym(
          RTLD_NEXT, "renameat2");
  return real(fromDir, from, toDir, to, flags);
}
