# Shared by the scripts in this folder: find a JDK >= 22 (25 preferred), build when stale.
# Sourced, not run.

PPEXEC_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PPEXEC_JVM_FLAGS=(--enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector)

# Prints the feature version (e.g. 25) of the java at $1/bin/java, or nothing.
ppexec_java_feature() {
  local v
  v=$("$1/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')
  printf '%s' "${v%%.*}"
}

# Sets JAVA_HOME to a JDK >= 22: JAVA_HOME when it qualifies, else the newest under the usual roots.
ppexec_find_jdk() {
  local candidate feature best="" best_feature=0
  if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/javac" ]; then
    feature=$(ppexec_java_feature "$JAVA_HOME")
    if [ -n "$feature" ] && [ "$feature" -ge 22 ]; then
      export JAVA_HOME
      return 0
    fi
  fi
  for candidate in /usr/lib/jvm/* /opt/java/* /opt/jdk* /usr/local/jdk* "$HOME"/.sdkman/candidates/java/*; do
    [ -x "$candidate/bin/javac" ] || continue
    feature=$(ppexec_java_feature "$candidate")
    [ -n "$feature" ] || continue
    if [ "$feature" -ge 22 ] && [ "$feature" -gt "$best_feature" ]; then
      best=$candidate
      best_feature=$feature
    fi
  done
  if [ -z "$best" ]; then
    echo "ppexec: no JDK 22 or newer found (JAVA_HOME=${JAVA_HOME:-unset}; looked in /usr/lib/jvm, /opt); install JDK 25 and set JAVA_HOME" >&2
    return 1
  fi
  export JAVA_HOME=$best
}

# Maven under that JDK, quiet about JDK 25's Unsafe warnings in Maven's own libraries.
ppexec_mvn() {
  if ! command -v mvn >/dev/null 2>&1; then
    echo "ppexec: mvn (Apache Maven 3.8 or newer) is not on PATH; install it (apt-get install maven)" >&2
    return 1
  fi
  MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow --enable-native-access=ALL-UNNAMED" \
    mvn -B -Dstyle.color=never -f "$PPEXEC_ROOT/pom.xml" "$@"
}

# Builds the jars when $1 (default: the executor jar) is missing or older than any source or pom.
ppexec_build_if_stale() {
  local jar="${1:-$PPEXEC_ROOT/executor/target/ppexec-executor.jar}"
  if [ -f "$jar" ] && [ -z "$(find "$PPEXEC_ROOT" -path "$PPEXEC_ROOT/.git" -prune -o \
        \( -name '*.java' -o -name 'pom.xml' -o -name '*.cu' \) -newer "$jar" -print -quit)" ]; then
    return 0
  fi
  echo "ppexec: building (first run, or sources changed) ..." >&2
  ppexec_mvn -q -DskipTests install >&2 || { echo "ppexec: build failed; run scripts/test for details" >&2; return 1; }
  # Maven leaves an unchanged module's jar as it was: stamp it, or a change elsewhere rebuilds every time.
  touch "$jar"
}

ppexec_classpath() {
  printf '%s' "$PPEXEC_ROOT/executor/target/ppexec-executor.jar:$PPEXEC_ROOT/executor/target/lib/*"
}
