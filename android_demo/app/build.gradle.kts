plugins {
    id("com.android.application")
    id("org.jetbrains.kotlin.android")
}

android {
    namespace = "org.lponet.demo"
    compileSdk = 34

    defaultConfig {
        applicationId = "org.lponet.demo"
        minSdk = 24 // LiteRT 2.3.0's AARs declare minSdk 24
        targetSdk = 34
        versionCode = 1
        versionName = "0.1.0"
    }

    buildTypes {
        release {
            isMinifyEnabled = false
            proguardFiles(getDefaultProguardFile("proguard-android-optimize.txt"), "proguard-rules.pro")
        }
    }
    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
    kotlinOptions {
        jvmTarget = "17"
    }
    androidResources {
        // Memory-map the models straight from the APK.
        noCompress += "tflite"
    }
}

// Same release as the ai-edge-litert wheel whose libLiteRt.so the JVM tests run the model on.
val litertVersion = "2.3.0"
val cameraxVersion = "1.3.4"

dependencies {
    implementation(project(":core"))
    implementation("androidx.core:core-ktx:1.13.1")
    implementation("androidx.appcompat:appcompat:1.7.0")
    implementation("androidx.activity:activity-ktx:1.9.1")
    implementation("androidx.exifinterface:exifinterface:1.3.7")
    implementation("androidx.camera:camera-core:$cameraxVersion")
    implementation("androidx.camera:camera-camera2:$cameraxVersion")
    implementation("androidx.camera:camera-lifecycle:$cameraxVersion")
    implementation("androidx.camera:camera-view:$cameraxVersion")
    // LiteRT 2.x, CompiledModel API (com.google.ai.edge.litert.CompiledModel, TensorBuffer,
    // Accelerator): the API whose C core the JVM tests drive (android_demo/README.md,
    // "Dependency"). From 2.3.0 the GPU accelerator is the separate litert-gpu artifact:
    // without it, Options(Accelerator.GPU) throws LiteRtException and the app uses the CPU.
    implementation("com.google.ai.edge.litert:litert:$litertVersion")
    implementation("com.google.ai.edge.litert:litert-gpu:$litertVersion")
}

// ---- Model assets ------------------------------------------------------------------------
// lponet.tflite, the BlazeFace model and lponet_android.json are produced by the lponet-tf
// library (android_demo/tools/export_assets.py, which uses the exporter behind `lponet
// export`), never hand-placed. Options: -Plponet.model=<preset | .keras | .tflite>,
// -Plponet.quantize=int8 (default: the bundled calibrated export)|fp16|none,
// -Plponet.detector=blazeface_short|blazeface_back|...,
// -Plponet.python=<python with lponet-tf> (default ../.venv/bin/python, see gradle.properties).
val assetsDir = layout.projectDirectory.dir("src/main/assets")

tasks.register<Exec>("exportLponetAssets") {
    group = "lponet"
    description = "Export the LPONet model and detector into src/main/assets with lponet-tf."
    val repoRoot = rootDir.parentFile
    val python = providers.gradleProperty("lponet.python").getOrElse("../.venv/bin/python")
    workingDir = repoRoot
    val args = mutableListOf(
        rootDir.resolve(python).absolutePath,
        rootDir.resolve("tools/export_assets.py").absolutePath,
        "--out", assetsDir.asFile.absolutePath,
    )
    providers.gradleProperty("lponet.model").orNull?.let { args += listOf("--model", it) }
    providers.gradleProperty("lponet.quantize").orNull?.let { args += listOf("--quantize", it) }
    providers.gradleProperty("lponet.detector").orNull?.let { args += listOf("--detector", it) }
    commandLine(args)
}

val checkLponetAssets = tasks.register("checkLponetAssets") {
    group = "lponet"
    description = "Fail early, with the fix, when the exported model assets are missing."
    val sidecar = assetsDir.file("lponet_android.json").asFile
    doLast {
        if (!sidecar.isFile) {
            throw GradleException(
                "Missing ${sidecar.path}: run `./gradlew :app:exportLponetAssets` (needs a Python " +
                    "with lponet-tf, see android_demo/README.md) before building the app."
            )
        }
    }
}
tasks.matching { it.name == "preBuild" }.configureEach { dependsOn(checkLponetAssets) }
