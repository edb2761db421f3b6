package org.lponet.demo

import android.content.Context
import android.graphics.Bitmap
import android.util.Log
import com.google.ai.edge.litert.Accelerator
import com.google.ai.edge.litert.CompiledModel
import com.google.ai.edge.litert.LiteRtException
import java.io.Closeable
import org.json.JSONObject
import org.lponet.core.BlazeFace
import org.lponet.core.BoxMapping
import org.lponet.core.CandidateCheck
import org.lponet.core.ConfirmedDetection
import org.lponet.core.DecodeSettings
import org.lponet.core.Face
import org.lponet.core.RgbImage
import org.lponet.core.ZoomOut
import org.lponet.demo.engine.FacePipeline
import org.lponet.demo.engine.FaceTrackingSession
import org.lponet.demo.engine.TfliteBlazeFace
import org.lponet.demo.engine.TfliteLandmarkModel

/**
 * Loads the exported assets (lponet.tflite, lponet_gpu.tflite, the BlazeFace model,
 * lponet_android.json written by android_demo/tools/export_assets.py) and runs the app's
 * [FacePipeline] on bitmaps, through LiteRT 2.x's CompiledModel API.
 *
 * The LPONet runs on the CPU (XNNPACK, [threads] threads) from the sidecar's "model" (the
 * int8 export by default). With [useGpu] it is compiled for Accelerator.GPU from the
 * sidecar's "gpu_model" (float I/O: the bundled fp16 export); LiteRT throws when the device or
 * the graph cannot run there (or the APK lacks litert-gpu), and the engine then falls back to
 * the CPU model and reports it ([gpuActive]). Only GPU is requested, never GPU + CPU: with both
 * LiteRT silently runs on the CPU while the app would report the GPU. The detector is small
 * and always runs on the CPU.
 *
 * Not thread-safe: create, use and close it on one thread (MainActivity's inference thread).
 */
class LponetEngine(context: Context, useGpu: Boolean, threads: Int = 4) : Closeable {
    val config: JSONObject
    /** True when the LPONet actually runs on the GPU accelerator. */
    val gpuActive: Boolean
    val pipeline: FacePipeline
    /**
     * Camera mode: Python's FaceAnalyzer.track (detection reuse from the previous landmarks,
     * One-Euro smoothing of landmarks and rotation), ported in the engine package.
     */
    val session: FaceTrackingSession

    // Everything this engine opened, in creation order: the engine classes' buffers are closed
    // before the CompiledModel they came from (reverse order).
    private val resources = mutableListOf<AutoCloseable>()

    init {
        try {
            val built = build(context, useGpu, threads)
            config = built.config
            gpuActive = built.gpuActive
            pipeline = built.pipeline
            session = built.session
        } catch (e: Throwable) {
            // Nobody can call close() on an engine whose construction failed. A failing
            // close() must not hide why the build failed.
            try {
                close()
            } catch (c: Throwable) {
                e.addSuppressed(c)
            }
            throw e
        }
    }

    private class Built(
        val config: JSONObject, val gpuActive: Boolean, val pipeline: FacePipeline,
        val session: FaceTrackingSession
    )

    private fun <T : AutoCloseable> opened(resource: T): T = resource.also { resources += it }

    private fun build(context: Context, useGpu: Boolean, threads: Int): Built {
        val assets = context.assets
        val config = JSONObject(assets.open(SIDECAR).bufferedReader().use { it.readText() })
        // Another format may give a field another meaning: read with this one's, the faces
        // would be wrong without an error.
        val format = config.optInt("format", -1)
        require(format == SIDECAR_FORMAT) {
            "$SIDECAR: sidecar format $format, this app reads format $SIDECAR_FORMAT: remake the " +
                "assets with the tools/export_assets.py of this app's checkout"
        }

        val det = config.getJSONObject("detector")
        val detectors = mutableListOf<TfliteBlazeFace>()
        val detModels = det.getJSONArray("models")
        for (i in 0 until detModels.length()) {
            val m = detModels.getJSONObject(i)
            val compiled = opened(CompiledModel.create(assets, m.getString("file"), cpu(2)))
            detectors += opened(TfliteBlazeFace(
                compiled, BlazeFace.Spec.valueOf(m.getString("spec")),
                m.getDouble("score_threshold").toFloat(), det.getDouble("iou_threshold").toFloat()
            ))
        }
        // blazeface_confirmed_zoom (Python's default): the first model, its low scores confirmed
        // by the second; when that finds no sure face, both again on the image in a gray border.
        val confirm = det.optJSONObject("confirm")?.let { confirmed(it) }
        val zoom = det.optJSONObject("zoom_out")
        val zoomOut = zoom?.let {
            ZoomOut(
                it.getDouble("pad"), it.getInt("fill"),
                if (it.isNull("rerun_below")) Double.NaN else it.getDouble("rerun_below"),
                if (it.isNull("max_side")) 0 else it.getInt("max_side")
            )
        }
        val zoomConfirm = zoom?.optJSONObject("confirm")?.let { confirmed(it) }

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
            val guard = if (m.isNull("max_size_deviation")) Double.NaN else m.getDouble("max_size_deviation")
            mappings[source] = BoxMapping(m.getDouble("dx"), m.getDouble("dy"), m.getDouble("sx"), m.getDouble("sy"), weights, guard)
        }

        var landmarks: TfliteLandmarkModel? = null
        val gpuJson = config.optJSONObject("gpu_model")
        if (useGpu && gpuJson != null) {
            var compiled: CompiledModel? = null
            try {
                compiled = opened(CompiledModel.create(assets, gpuJson.getString("file"), CompiledModel.Options(Accelerator.GPU)))
                landmarks = opened(TfliteLandmarkModel(compiled, quant(gpuJson)))
            } catch (e: LiteRtException) {
                // A GPU model that compiled but could not be used is not kept open until close().
                compiled?.let { resources.remove(it); it.close() }
                // No GPU accelerator for this device / graph (or litert-gpu missing): CPU.
                Log.w(TAG, "GPU accelerator unavailable, using the CPU", e)
            }
        }
        val gpuActive = landmarks != null
        val cpuJson = config.getJSONObject("model")
        val dec = (if (gpuActive) gpuJson!! else cpuJson).getJSONObject("decode")
        val model = landmarks ?: opened(TfliteLandmarkModel(
            opened(CompiledModel.create(assets, cpuJson.getString("file"), cpu(threads))),
            quant(cpuJson)
        ))

        val analyzer = config.getJSONObject("analyzer")
        val pipeline = FacePipeline(
            detectors, confirm, zoomOut, zoomConfirm, mappings, model,
            DecodeSettings.of(dec.getString("decoder"), dec.getDouble("heatmap_scale"), dec.getDouble("sigma")),
            analyzer.getDouble("score_threshold").toFloat(), analyzer.getInt("max_faces"),
            analyzer.getBoolean("refine"), analyzer.getDouble("refine_min_confidence").toFloat(),
            analyzer.getDouble("refine_iou").toFloat(), analyzer.getInt("refine_passes"),
            // when the detector finds nothing: its low-score candidates checked by the network
            analyzer.optJSONObject("candidate_check")?.let {
                CandidateCheck(
                    it.getInt("model"), it.getDouble("candidate_score"), it.getInt("max_candidates"),
                    it.getDouble("min_confidence"), it.getDouble("max_visible"), it.getDouble("same_face_iou")
                )
            }
        )
        val session = FaceTrackingSession(
            pipeline, analyzer.getInt("detect_every"), analyzer.getInt("zoom_out_every"),
            analyzer.getInt("candidate_check_every"),
            analyzer.getDouble("min_tracking_confidence").toFloat(), true
        )
        return Built(config, gpuActive, pipeline, session)
    }

    /** All faces of one image. */
    fun analyze(bitmap: Bitmap): List<Face> = pipeline.analyze(rgbOf(bitmap))

    // Frame buffers reused by rgbOf (the engine is used on one thread): a camera frame's
    // int[W*H] + byte[W*H*3] were ~6 MB of garbage per 1280x720 frame.
    private var pixels = IntArray(0)
    private var rgb = ByteArray(0)

    /**
     * [toRgb] into this engine's reused buffers: the image is valid until the next call (the
     * pipeline keeps no reference to it after returning).
     */
    fun rgbOf(bitmap: Bitmap): RgbImage {
        val b = if (bitmap.config == Bitmap.Config.ARGB_8888) bitmap else bitmap.copy(Bitmap.Config.ARGB_8888, false)
        val n = b.width * b.height
        if (pixels.size != n) {
            pixels = IntArray(n)
            rgb = ByteArray(n * 3)
        }
        b.getPixels(pixels, 0, b.width, 0, 0, b.width, b.height)
        return RgbImage.fromArgb(pixels, b.width, b.height, rgb)
    }

    /** Closes the engine classes (their LiteRT buffers), then the models; idempotent. */
    override fun close() {
        val all = resources.asReversed().toList()
        resources.clear()
        var first: Throwable? = null
        for (r in all) {
            try {
                r.close()
            } catch (e: Throwable) {
                if (first == null) first = e else first.addSuppressed(e)
            }
        }
        first?.let { throw it }
    }

    companion object {
        private const val TAG = "LponetEngine"
        const val SIDECAR = "lponet_android.json"
        /** The sidecar layout this engine reads (tools/export_assets.py's SIDECAR_FORMAT). */
        const val SIDECAR_FORMAT = 1

        /** True when the exported assets are in the APK. */
        fun assetsPresent(context: Context): Boolean =
            try {
                context.assets.open(SIDECAR).close()
                true
            } catch (e: java.io.IOException) {
                false
            }

        /** A sidecar "confirm" entry. */
        private fun confirmed(c: JSONObject) = ConfirmedDetection(
            c.getDouble("accept"), c.getDouble("low"), c.getDouble("confirm_threshold"), c.getDouble("small_face")
        )

        private fun cpu(threads: Int): CompiledModel.Options =
            CompiledModel.Options(Accelerator.CPU).apply {
                cpuOptions = CompiledModel.CpuOptions(threads, null, null)
            }

        /** Scale and zero point of each int8 tensor of a sidecar model entry. */
        private fun quant(model: JSONObject): Map<String, TfliteLandmarkModel.Quant> {
            val out = HashMap<String, TfliteLandmarkModel.Quant>()
            val tensors = model.getJSONObject("tensors")
            for (name in tensors.keys()) {
                val t = tensors.getJSONObject(name)
                if (t.getString("dtype") == "int8") {
                    out[name] = TfliteLandmarkModel.Quant(t.getDouble("scale").toFloat(), t.getInt("zero_point"))
                }
            }
            return out
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
