package org.lponet.demo

import android.content.Context
import android.graphics.Bitmap
import android.util.Log
import java.io.Closeable
import java.io.FileInputStream
import java.nio.MappedByteBuffer
import java.nio.channels.FileChannel
import org.json.JSONObject
import org.lponet.core.BlazeFace
import org.lponet.core.BoxMapping
import org.lponet.core.Face
import org.lponet.core.RgbImage
import org.lponet.demo.engine.FacePipeline
import org.lponet.demo.engine.FaceTrackingSession
import org.lponet.demo.engine.TfliteBlazeFace
import org.lponet.demo.engine.TfliteLandmarkModel
import org.tensorflow.lite.Interpreter
import org.tensorflow.lite.gpu.CompatibilityList
import org.tensorflow.lite.gpu.GpuDelegate

/**
 * Loads the exported assets (lponet.tflite, the BlazeFace model, lponet_android.json written by
 * android_demo/tools/export_assets.py) and runs the app's [FacePipeline] on bitmaps.
 *
 * The LPONet interpreter gets the GPU delegate when [useGpu] is set and the device supports it
 * (LiteRT's CompatibilityList), else the CPU (XNNPACK) with [threads] threads. The detector is
 * small and always runs on the CPU: moving it to the GPU costs more in transfers than it saves.
 *
 * Not thread-safe: create, use and close it on one thread (MainActivity's inference thread).
 */
class LponetEngine(context: Context, useGpu: Boolean, threads: Int = 4) : Closeable {
    val config: JSONObject
    /** True when the GPU delegate was actually applied (it may be unavailable). */
    val gpuActive: Boolean
    val pipeline: FacePipeline
    /**
     * Camera mode: Python's FaceAnalyzer.track (detection reuse from the previous landmarks,
     * One-Euro smoothing of landmarks and rotation), ported in the engine package.
     */
    val session: FaceTrackingSession

    private val interpreters = mutableListOf<Interpreter>()
    private var gpuDelegate: GpuDelegate? = null

    init {
        val assets = context.assets
        config = JSONObject(assets.open(SIDECAR).bufferedReader().use { it.readText() })

        val det = config.getJSONObject("detector")
        val detectors = mutableListOf<TfliteBlazeFace>()
        val models = det.getJSONArray("models")
        for (i in 0 until models.length()) {
            val m = models.getJSONObject(i)
            val interp = Interpreter(map(context, m.getString("file")), Interpreter.Options().setNumThreads(2))
            interpreters += interp
            detectors += TfliteBlazeFace(
                interp, BlazeFace.Spec.valueOf(m.getString("spec")),
                det.getDouble("score_threshold").toFloat(), det.getDouble("iou_threshold").toFloat(),
            )
        }

        val mappings = HashMap<String, BoxMapping>()
        val jm = config.getJSONObject("box_mappings")
        for (source in jm.keys()) {
            val m = jm.getJSONObject(source)
            val w = m.optJSONArray("keypoint_weights")
            val weights = w?.let { arr ->
                Array(arr.length()) { r ->
                    val row = arr.getJSONArray(r)
                    DoubleArray(row.length()) { c -> row.getDouble(c) }
                }
            }
            mappings[source] = BoxMapping(m.getDouble("dx"), m.getDouble("dy"), m.getDouble("sx"), m.getDouble("sy"), weights)
        }

        val modelFile = map(context, config.getJSONObject("model").getString("file"))
        var lponet: Interpreter? = null
        if (useGpu) {
            try {
                CompatibilityList().use { compat ->
                    if (compat.isDelegateSupportedOnThisDevice) {
                        val delegate = GpuDelegate(compat.bestOptionsForThisDevice)
                        gpuDelegate = delegate
                        lponet = Interpreter(modelFile, Interpreter.Options().addDelegate(delegate))
                    }
                }
            } catch (e: Exception) {
                // A GPU delegate that cannot take the graph throws here: fall back to the CPU.
                Log.w(TAG, "GPU delegate unavailable, using the CPU", e)
                gpuDelegate?.close()
                gpuDelegate = null
                lponet = null
            }
        }
        gpuActive = lponet != null
        val model = lponet ?: Interpreter(modelFile, Interpreter.Options().setNumThreads(threads))
        interpreters += model

        val analyzer = config.getJSONObject("analyzer")
        pipeline = FacePipeline(
            detectors, mappings, TfliteLandmarkModel(model),
            analyzer.getDouble("score_threshold").toFloat(), analyzer.getInt("max_faces"),
        )
        session = FaceTrackingSession(
            pipeline, analyzer.getInt("detect_every"),
            analyzer.getDouble("min_tracking_confidence").toFloat(), true,
        )
    }

    /** All faces of one image. */
    fun analyze(bitmap: Bitmap): List<Face> = pipeline.analyze(toRgb(bitmap))

    override fun close() {
        interpreters.forEach { it.close() }
        interpreters.clear()
        gpuDelegate?.close()
        gpuDelegate = null
    }

    companion object {
        private const val TAG = "LponetEngine"
        const val SIDECAR = "lponet_android.json"

        /** True when the exported assets are in the APK. */
        fun assetsPresent(context: Context): Boolean =
            try {
                context.assets.open(SIDECAR).close()
                true
            } catch (e: java.io.IOException) {
                false
            }

        /** Memory-maps an uncompressed asset (build.gradle.kts: noCompress "tflite"). */
        private fun map(context: Context, name: String): MappedByteBuffer =
            context.assets.openFd(name).use { fd ->
                FileInputStream(fd.fileDescriptor).use { input ->
                    input.channel.map(FileChannel.MapMode.READ_ONLY, fd.startOffset, fd.declaredLength)
                }
            }

        /** ARGB_8888 bitmap -> the core's RGB image (alpha dropped). */
        fun toRgb(bitmap: Bitmap): RgbImage {
            val b = if (bitmap.config == Bitmap.Config.ARGB_8888) bitmap else bitmap.copy(Bitmap.Config.ARGB_8888, false)
            val px = IntArray(b.width * b.height)
            b.getPixels(px, 0, b.width, 0, 0, b.width, b.height)
            return RgbImage.fromArgb(px, b.width, b.height)
        }
    }
}
