package org.lponet.core;

/**
 * Everything the analyser reports for one face, in image pixels (0-based, a pixel's centre at
 * its integer coordinate).
 */
public final class Face {
  /** The detection this face came from (null when the caller gave the box). */
  public final Detection detection;
  /** Detector confidence (1 for a given box; carried over while tracking). */
  public final float score;
  /** The tight landmark-box estimate the crop was built from, {@code (x0, y0, x1, y1)}. */
  public final float[] faceBox;
  /** Image -> network crop affine. */
  public final CropTransform crop;
  /** {@code [k] = {x, y}}, 68 points in iBUG order. */
  public final float[][] landmarks;
  /** Heatmap peak / 60 per landmark, clipped at 0 (about 1 when confident). */
  public final float[] landmarkScores;
  /** Visible-face probability at each landmark, in [0, 1]. */
  public final float[] visibility;
  /** Head-to-camera rotation, row-major 3x3 (lponet_tf.geometry convention). */
  public final double[] rotation;
  /** {@code (yaw, pitch, roll)} degrees. */
  public final double[] euler;
  /** Visible-face probability on the heatmap grid, {@code maskH x maskW}, row-major. */
  public final float[] mask;
  public final int maskH;
  public final int maskW;
  /** Crop pixels per mask cell (S / maskW). */
  public final double stride;

  public Face(
      Detection detection, float score, float[] faceBox, CropTransform crop, float[][] landmarks,
      float[] landmarkScores, float[] visibility, double[] rotation, double[] euler, float[] mask,
      int maskH, int maskW, double stride) {
    this.detection = detection;
    this.score = score;
    this.faceBox = faceBox;
    this.crop = crop;
    this.landmarks = landmarks;
    this.landmarkScores = landmarkScores;
    this.visibility = visibility;
    this.rotation = rotation;
    this.euler = euler;
    this.mask = mask;
    this.maskH = maskH;
    this.maskW = maskW;
    this.stride = stride;
  }

  public double yaw() {
    return euler[0];
  }

  public double pitch() {
    return euler[1];
  }

  public double roll() {
    return euler[2];
  }

  /**
   * Affine (row-major 2x3) from mask cell coordinates {@code (u, v)} (cell centres at integers)
   * to image pixels, for drawing the mask over the photo: grid -> crop
   * {@code x = stride (u + 0.5) - 0.5}, then crop -> image.
   */
  public double[] maskToImage() {
    double[] inv = crop.inverse();
    double s = stride, t = 0.5 * stride - 0.5;
    return new double[] {
      inv[0] * s, inv[1] * s, inv[0] * t + inv[1] * t + inv[2],
      inv[3] * s, inv[4] * s, inv[3] * t + inv[4] * t + inv[5]
    };
  }

  /** Mean landmark score: a cheap "is this still a face" signal for tracking. */
  public float confidence() {
    double s = 0;
    for (float v : landmarkScores) {
      s += v;
    }
    return (float) (s / landmarkScores.length);
  }

  /** Centre of the landmarks, the origin for drawing the pose axes. */
  public float[] landmarkCentre() {
    double x = 0, y = 0;
    for (float[] p : landmarks) {
      x += p[0];
      y += p[1];
    }
    return new float[] {(float) (x / landmarks.length), (float) (y / landmarks.length)};
  }
}
