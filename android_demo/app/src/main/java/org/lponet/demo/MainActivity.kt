package org.lponet.demo

import android.Manifest
import android.content.pm.PackageManager
import android.graphics.Bitmap
import android.net.Uri
import android.os.Bundle
import android.os.SystemClock
import android.util.Log
import android.util.Size
import android.view.View
import android.widget.Button
import android.widget.CheckBox
import android.widget.ImageView
import android.widget.TextView
import android.widget.Toast
import androidx.activity.result.contract.ActivityResultContracts
import androidx.appcompat.app.AppCompatActivity
import androidx.camera.core.CameraSelector
import androidx.camera.core.ImageAnalysis
import androidx.camera.core.ImageProxy
import androidx.camera.core.Preview
import androidx.camera.core.resolutionselector.ResolutionSelector
import androidx.camera.core.resolutionselector.ResolutionStrategy
import androidx.camera.lifecycle.ProcessCameraProvider
import androidx.camera.view.PreviewView
import androidx.core.content.ContextCompat
import java.util.concurrent.ExecutorService
import java.util.concurrent.Executors

/**
 * Live camera preview or a gallery photo; every face gets LPONet's landmarks (coloured by
 * visibility), head-pose axes and visible-face mask, with the inference time on screen.
 *
 * All LiteRT work happens on one background thread ([inference]); the engine is rebuilt there
 * when the CPU/GPU choice changes. Camera frames are analysed upright and unmirrored; the
 * overlay mirrors its drawing for the front camera, as PreviewView mirrors the preview.
 */
class MainActivity : AppCompatActivity() {
    private lateinit var preview: PreviewView
    private lateinit var photo: ImageView
    private lateinit var overlay: OverlayView
    private lateinit var stats: TextView
    private lateinit var gpuCheck: CheckBox

    private val inference: ExecutorService = Executors.newSingleThreadExecutor()
    private var engine: LponetEngine? = null // touched only on the inference thread
    private var engineGpu = false
    private var cameraProvider: ProcessCameraProvider? = null
    private var lensFacing = CameraSelector.LENS_FACING_FRONT
    @Volatile private var inCameraMode = true
    @Volatile private var wantGpu = false
    private var lastFrameMs = 0L
    private var fps = 0.0

    private val requestCamera =
        registerForActivityResult(ActivityResultContracts.RequestPermission()) { granted ->
            if (granted) startCamera() else {
                Toast.makeText(this, R.string.no_camera_permission, Toast.LENGTH_LONG).show()
                stats.setText(R.string.no_camera_permission)
            }
        }

    private val pickImage =
        registerForActivityResult(ActivityResultContracts.GetContent()) { uri: Uri? -> uri?.let { showPhoto(it) } }

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContentView(R.layout.activity_main)
        preview = findViewById(R.id.preview)
        photo = findViewById(R.id.photo)
        overlay = findViewById(R.id.overlay)
        stats = findViewById(R.id.stats)
        gpuCheck = findViewById(R.id.gpu_check)

        if (!LponetEngine.assetsPresent(this)) {
            stats.setText(R.string.missing_assets)
            return
        }
        findViewById<Button>(R.id.camera_button).setOnClickListener { enterCameraMode() }
        findViewById<Button>(R.id.gallery_button).setOnClickListener { pickImage.launch("image/*") }
        findViewById<Button>(R.id.flip_button).setOnClickListener {
            lensFacing = if (lensFacing == CameraSelector.LENS_FACING_FRONT) CameraSelector.LENS_FACING_BACK
            else CameraSelector.LENS_FACING_FRONT
            if (inCameraMode) startCamera()
        }
        gpuCheck.setOnCheckedChangeListener { _, checked ->
            wantGpu = checked
            if (!inCameraMode) (photo.tag as? Bitmap)?.let { analyzePhoto(it) }
        }
        findViewById<CheckBox>(R.id.mask_check).setOnCheckedChangeListener { _, checked -> overlay.showMask = checked }
        enterCameraMode()
    }

    override fun onDestroy() {
        super.onDestroy()
        cameraProvider?.unbindAll()
        inference.execute {
            engine?.close()
            engine = null
        }
        inference.shutdown()
    }

    /** The engine for the current CPU/GPU choice (inference thread only). */
    private fun engine(): LponetEngine {
        val current = engine
        if (current != null && engineGpu == wantGpu) return current
        current?.close()
        val created = LponetEngine(applicationContext, wantGpu)
        engine = created
        engineGpu = wantGpu
        if (wantGpu && !created.gpuActive) {
            runOnUiThread { Toast.makeText(this, "GPU accelerator not available here: using the CPU", Toast.LENGTH_SHORT).show() }
        }
        return created
    }

    // ---- camera -----------------------------------------------------------------------
    private fun enterCameraMode() {
        inCameraMode = true
        photo.visibility = View.GONE
        preview.visibility = View.VISIBLE
        overlay.clear()
        if (ContextCompat.checkSelfPermission(this, Manifest.permission.CAMERA) == PackageManager.PERMISSION_GRANTED) {
            startCamera()
        } else {
            requestCamera.launch(Manifest.permission.CAMERA)
        }
    }

    private fun startCamera() {
        val future = ProcessCameraProvider.getInstance(this)
        future.addListener({
            val provider = future.get()
            cameraProvider = provider
            provider.unbindAll()
            val previewUseCase = Preview.Builder().build().also { it.setSurfaceProvider(preview.surfaceProvider) }
            val analysis = ImageAnalysis.Builder()
                .setBackpressureStrategy(ImageAnalysis.STRATEGY_KEEP_ONLY_LATEST)
                .setOutputImageFormat(ImageAnalysis.OUTPUT_IMAGE_FORMAT_RGBA_8888)
                .setResolutionSelector(
                    ResolutionSelector.Builder()
                        .setResolutionStrategy(
                            ResolutionStrategy(Size(640, 480), ResolutionStrategy.FALLBACK_RULE_CLOSEST_HIGHER_THEN_LOWER)
                        ).build()
                )
                .build()
            val mirror = lensFacing == CameraSelector.LENS_FACING_FRONT
            inference.execute { engine?.session?.reset() }
            analysis.setAnalyzer(inference) { proxy -> analyzeFrame(proxy, mirror) }
            val selector = CameraSelector.Builder().requireLensFacing(lensFacing).build()
            try {
                provider.bindToLifecycle(this, selector, previewUseCase, analysis)
            } catch (e: Exception) {
                Log.e(TAG, "camera bind failed", e)
                stats.text = "Camera unavailable: ${e.message}"
            }
        }, ContextCompat.getMainExecutor(this))
    }

    /** Runs on the inference thread (CameraX calls the analyzer on it). */
    private fun analyzeFrame(proxy: ImageProxy, mirror: Boolean) {
        try {
            if (!inCameraMode) return
            val frame = BitmapUtils.rotate(proxy.toBitmap(), proxy.imageInfo.rotationDegrees)
            val eng = engine()
            val before = eng.session.detectionsRun()
            val timestampMs = proxy.imageInfo.timestamp / 1e6
            // A timestamp that did not advance (camera restarted): start a new video. Checked
            // up front: any other IllegalArgumentException of step() is a real failure, logged
            // below, not a reason to reset tracking and run the frame twice.
            if (!eng.session.accepts(timestampMs)) eng.session.reset()
            val tracked = eng.session.step(eng.rgbOf(frame), timestampMs)
            val detected = eng.session.detectionsRun() != before
            val drawn = tracked.map { OverlayView.Drawn(it.face, it.landmarks, it.rotation, it.euler) }
            val now = SystemClock.elapsedRealtime()
            if (lastFrameMs > 0) fps = 0.9 * fps + 0.1 * (1000.0 / (now - lastFrameMs).coerceAtLeast(1))
            lastFrameMs = now
            val text = statsText(eng, tracked.size, frame.width, frame.height, detected) + String.format("  %.0f fps", fps)
            runOnUiThread {
                if (inCameraMode) {
                    overlay.setResults(drawn, frame.width, frame.height, fill = true, mirror = mirror)
                    stats.text = text
                }
            }
        } catch (e: Exception) {
            Log.e(TAG, "frame analysis failed", e)
        } finally {
            proxy.close()
        }
    }

    // ---- gallery ----------------------------------------------------------------------
    private fun showPhoto(uri: Uri) {
        val bitmap = BitmapUtils.load(this, uri) ?: run {
            Toast.makeText(this, "Cannot read that image", Toast.LENGTH_SHORT).show()
            return
        }
        inCameraMode = false
        cameraProvider?.unbindAll()
        preview.visibility = View.GONE
        photo.visibility = View.VISIBLE
        photo.setImageBitmap(bitmap)
        photo.tag = bitmap
        overlay.clear()
        analyzePhoto(bitmap)
    }

    private fun analyzePhoto(bitmap: Bitmap) {
        stats.text = "Analysing…"
        inference.execute {
            try {
                val eng = engine()
                val faces = eng.analyze(bitmap)
                val drawn = faces.map { OverlayView.Drawn(it, it.landmarks, it.rotation, it.euler) }
                val text = statsText(eng, faces.size, bitmap.width, bitmap.height, true)
                runOnUiThread {
                    if (!inCameraMode) {
                        overlay.setResults(drawn, bitmap.width, bitmap.height, fill = false, mirror = false)
                        stats.text = text
                    }
                }
            } catch (e: Exception) {
                Log.e(TAG, "photo analysis failed", e)
                runOnUiThread { stats.text = "Analysis failed: ${e.message}" }
            }
        }
    }

    /** Device, frame size, detector time (or "tracked" when the previous landmarks gave the
     * boxes), LPONet time for all faces. */
    private fun statsText(eng: LponetEngine, n: Int, w: Int, h: Int, detected: Boolean): String {
        val p = eng.pipeline
        val device = if (eng.gpuActive) "GPU" else "CPU"
        val det = if (detected) String.format("detect %.1f ms", p.lastDetectMillis()) else "tracked"
        return String.format(
            "%s  %dx%d  %s  LPONet %.1f ms (%d face%s)",
            device, w, h, det, p.lastLandmarkMillis(), n, if (n == 1) "" else "s",
        )
    }

    companion object {
        private const val TAG = "LponetDemo"
    }
}
