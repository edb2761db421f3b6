package org.lponet.demo

import android.content.Context
import android.graphics.Bitmap
import android.graphics.Canvas
import android.graphics.Color
import android.graphics.Matrix
import android.graphics.Paint
import android.util.AttributeSet
import android.view.View
import org.lponet.core.Face
import org.lponet.core.Rotations
import kotlin.math.max
import kotlin.math.min

/**
 * Draws the analysis over the camera preview or the photo: the visible-face mask, the 68
 * landmarks coloured by visibility (green visible -> red occluded), the head-pose axes and the
 * Euler angles.
 *
 * Image pixels are 0-based with a pixel's centre at its integer coordinate (the core's
 * convention); Android draws pixel i over [i, i + 1), so an image point x lands at view
 * coordinate (x + 0.5) * scale + offset.
 */
class OverlayView @JvmOverloads constructor(context: Context, attrs: AttributeSet? = null) : View(context, attrs) {

    /** One face to draw: the analysis plus (in video) its smoothed landmarks and rotation. */
    class Drawn(val face: Face, val landmarks: Array<FloatArray>, val rotation: DoubleArray, val euler: DoubleArray)

    private var faces: List<Drawn> = emptyList()
    private var imageWidth = 1
    private var imageHeight = 1
    private var fill = true
    private var mirror = false
    var showMask = true
        set(value) { field = value; invalidate() }

    private val density = resources.displayMetrics.density
    private val pointPaint = Paint(Paint.ANTI_ALIAS_FLAG)
    private val boxPaint = Paint(Paint.ANTI_ALIAS_FLAG).apply {
        style = Paint.Style.STROKE; strokeWidth = 1.5f * density; color = Color.argb(160, 255, 255, 255)
    }
    private val axisPaint = Paint(Paint.ANTI_ALIAS_FLAG).apply { strokeWidth = 3f * density; strokeCap = Paint.Cap.ROUND }
    private val textPaint = Paint(Paint.ANTI_ALIAS_FLAG).apply {
        color = Color.WHITE; textSize = 13f * density; setShadowLayer(3f, 0f, 0f, Color.BLACK)
    }
    private val maskPaint = Paint(Paint.FILTER_BITMAP_FLAG)

    /**
     * New results. [fill]: the image is scaled to cover the view (PreviewView's FILL_CENTER),
     * else to fit inside it (ImageView's fitCenter). [mirror]: flip horizontally (front camera
     * preview, which PreviewView shows mirrored).
     */
    fun setResults(faces: List<Drawn>, imageWidth: Int, imageHeight: Int, fill: Boolean, mirror: Boolean) {
        this.faces = faces
        this.imageWidth = imageWidth
        this.imageHeight = imageHeight
        this.fill = fill
        this.mirror = mirror
        invalidate()
    }

    fun clear() = setResults(emptyList(), 1, 1, fill, mirror)

    /** Image pixel -> view affine (android.graphics.Matrix). */
    private fun imageToView(): Matrix {
        val sx = width.toFloat() / imageWidth
        val sy = height.toFloat() / imageHeight
        val s = if (fill) max(sx, sy) else min(sx, sy)
        val dx = (width - imageWidth * s) / 2
        val dy = (height - imageHeight * s) / 2
        return Matrix().apply {
            setScale(s, s)
            postTranslate(dx + 0.5f * s, dy + 0.5f * s)
            if (mirror) postScale(-1f, 1f, width / 2f, 0f)
        }
    }

    override fun onDraw(canvas: Canvas) {
        super.onDraw(canvas)
        if (faces.isEmpty()) return
        val toView = imageToView()
        val pt = FloatArray(2)
        for (d in faces) {
            val f = d.face
            if (showMask) drawMask(canvas, f, toView)

            val b = floatArrayOf(f.faceBox[0], f.faceBox[1], f.faceBox[2], f.faceBox[3])
            toView.mapPoints(b)
            canvas.drawRect(min(b[0], b[2]), min(b[1], b[3]), max(b[0], b[2]), max(b[1], b[3]), boxPaint)

            val r = 2.5f * density
            for (k in d.landmarks.indices) {
                pt[0] = d.landmarks[k][0]; pt[1] = d.landmarks[k][1]
                toView.mapPoints(pt)
                val v = f.visibility[k].coerceIn(0f, 1f)
                pointPaint.color = Color.rgb((255 * (1 - v)).toInt(), (255 * v).toInt(), 40)
                canvas.drawCircle(pt[0], pt[1], r, pointPaint)
            }

            drawAxes(canvas, d, toView)
            val label = String.format("yaw %.0f  pitch %.0f  roll %.0f", d.euler[0], d.euler[1], d.euler[2])
            canvas.drawText(label, min(b[0], b[2]), min(b[1], b[3]) - 6 * density, textPaint)
        }
    }

    /** Head axes: x (red, to the subject's left ear), y (green, to the chin) and the facing
     * direction -z (blue), projected weak-perspective from the landmarks' centre. */
    private fun drawAxes(canvas: Canvas, d: Drawn, toView: Matrix) {
        var cx = 0f
        var cy = 0f
        for (p in d.landmarks) { cx += p[0]; cy += p[1] }
        cx /= d.landmarks.size; cy /= d.landmarks.size
        val len = 0.5f * (d.face.faceBox[2] - d.face.faceBox[0])
        val ends = Rotations.axisEndpoints(d.rotation, cx, cy, len)
        // The face looks along -z: draw that direction rather than the axis into the head.
        ends[2][0] = 2 * cx - ends[2][0]
        ends[2][1] = 2 * cy - ends[2][1]
        val o = floatArrayOf(cx, cy)
        toView.mapPoints(o)
        val colors = intArrayOf(Color.RED, Color.GREEN, Color.rgb(60, 120, 255))
        for (k in 0 until 3) {
            val e = floatArrayOf(ends[k][0], ends[k][1])
            toView.mapPoints(e)
            axisPaint.color = colors[k]
            canvas.drawLine(o[0], o[1], e[0], e[1], axisPaint)
        }
    }

    /** The visible-face probability as translucent cyan, resampled bilinearly by the canvas
     * through mask cell -> image (Face.maskToImage) -> view. */
    private fun drawMask(canvas: Canvas, f: Face, toView: Matrix) {
        val px = IntArray(f.maskW * f.maskH)
        for (i in px.indices) {
            val a = (f.mask[i].coerceIn(0f, 1f) * 120).toInt()
            px[i] = Color.argb(a, 0, 200, 255)
        }
        val bmp = Bitmap.createBitmap(px, f.maskW, f.maskH, Bitmap.Config.ARGB_8888)
        val g = f.maskToImage()
        // Bitmap pixel u covers [u, u + 1): its centre u + 0.5 is mask cell u.
        val m = Matrix().apply {
            setValues(floatArrayOf(
                g[0].toFloat(), g[1].toFloat(), g[2].toFloat(),
                g[3].toFloat(), g[4].toFloat(), g[5].toFloat(),
                0f, 0f, 1f,
            ))
            preTranslate(-0.5f, -0.5f)
            postConcat(toView)
        }
        canvas.drawBitmap(bmp, m, maskPaint)
        bmp.recycle()
    }
}
