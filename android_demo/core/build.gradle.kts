// Pure Java, no Android classes, no dependencies: the app's geometry, decoding and smoothing.
plugins {
    `java-library`
}

java {
    sourceCompatibility = JavaVersion.VERSION_17
    targetCompatibility = JavaVersion.VERSION_17
}

dependencies {
    testImplementation("org.junit.jupiter:junit-jupiter:5.10.2")
    testRuntimeOnly("org.junit.platform:junit-platform-launcher")
}

// The unit tests compare against golden values that the Python library writes in the same
// run; the repository's `make test-java` (tests/test_android_core.py) drives them. Under
// Gradle they run only when given such a folder: ./gradlew :core:test -Plponet.goldens=DIR
tasks.test {
    useJUnitPlatform()
    val goldens = providers.gradleProperty("lponet.goldens")
    onlyIf { goldens.isPresent }
    systemProperty("lponet.goldens", goldens.getOrElse(""))
}
