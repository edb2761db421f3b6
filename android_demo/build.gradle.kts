// Versions chosen from the public docs (AGP 8.5 needs Gradle >= 8.7 and JDK 17); the build
// was not run on the machines that wrote it (no Android SDK there): see README.md.
plugins {
    id("com.android.application") version "8.5.2" apply false
    id("org.jetbrains.kotlin.android") version "1.9.24" apply false
}
