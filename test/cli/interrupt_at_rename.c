/*===- interrupt_at_rename.c - SIGINT at a set point, for output_safety.sh -===*
 *
 * Preloaded (LD_PRELOAD) into `birkhoff compile --dump-kernels DIR`: when the
 * process renames a folder whose name holds ".partial." (the finished dump,
 * DIR.partial.<pid>, about to be swapped in), it raises SIGINT first, so the
 * interrupt comes while that folder is full, every time. Any other rename
 * (the artifact's temporary file) goes through untouched.
 *
 *===----------------------------------------------------------------------===*/
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static void interruptBeforeDumpRename(int dir, const char *from) {
  struct stat st;
  if (strstr(from, ".partial.") && fstatat(dir, from, &st, 0) == 0 &&
      S_ISDIR(st.st_mode))
    raise(SIGINT);
}

int rename(const char *from, const char *to) {
  interruptBeforeDumpRename(AT_FDCWD, from);
  int (*real)(const char *, const char *) =
      (int (*)(const char *, const char *))dlsym(RTLD_NEXT, "rename");
  return real(from, to);
}

int renameat(int fromDir, const char *from, int toDir, const char *to) {
  interruptBeforeDumpRename(fromDir, from);
  int (*real)(int, const char *, int, const char *) =
      (int (*)(int, const char *, int, const char *))dlsym(RTLD_NEXT,
                                                           "renameat");
  return real(fromDir, from, toDir, to);
}

int renameat2(int fromDir, const char *from, int toDir, const char *to,
              unsigned flags) {
  interruptBeforeDumpRename(fromDir, from);
  int (*real)(int, const char *, int, const char *, unsigned) =
      (int (*)(int, const char *, int, const char *, unsigned))dlsym(
          RTLD_NEXT, "renameat2");
  return real(fromDir, from, toDir, to, flags);
}
