// The LPONet Android demo: open this folder (android_demo/) in Android Studio.
// Modules: :core (pure Java, shared with the JVM tests run by `make test-java`) and :app.
pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}
dependencyResolutionManagement {
    repositoriesMode.set(RepositoriesMode.FAIL_ON_PROJECT_REPOS)
    repositories {
        google()
        mavenCentral()
    }
}
rootProject.name = "lponet-android-demo"
include(":core", ":app")
