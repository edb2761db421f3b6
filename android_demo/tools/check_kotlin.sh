#!/usr/bin/env bash
# Compile check of the app's LiteRT-facing Kotlin (app/src/main/java/org/lponet/demo/LponetEngine.kt)
# against exactly the API subset it uses: LiteRT's Kotlin CompiledModel API as the desktop
# stand-in declares it (desktop/src/main/java/com/google/ai/edge/litert, signatures checked
# against LiteRT's sources, README "Dependency") and compile-only Android stubs
# (desktop/src/stubs/java: Context, AssetManager, Bitmap, Log, org.json), with the core and the
# engine package. Needs a JDK and kotlinc (Debian: `apt-get install kotlin`, Kotlin 1.3, about
# 290 MB), so it is not part of `make test`. The other Kotlin files (MainActivity, OverlayView,
# BitmapUtils: AppCompat, CameraX) are not checked: their stubs would be most of AndroidX.
#
# Usage (from anywhere): android_demo/tools/check_kotlin.sh
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
mapfile -t java < <(find core/src/main/java desktop/src/main/java desktop/src/stubs/java \
  app/src/main/java/org/lponet/demo/engine -name '*.java' | sort)
javac -encoding UTF-8 -d "$out/classes" "${java[@]}"
kotlinc -nowarn -cp "$out/classes" -d "$out/kotlin" app/src/main/java/org/lponet/demo/LponetEngine.kt
echo "LponetEngine.kt compiles against the LiteRT stand-in and the Android stubs ($(kotlinc -version 2>&1 | tail -1))"
