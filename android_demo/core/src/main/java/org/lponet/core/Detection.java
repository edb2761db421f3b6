package org.lponet.core;

/**
 * One detected face (mirror of {@code lponet_tf.detection.Detection}): a box
 * {@code (x0, y0, x1, y1)} in image pixels, a confidence and, for BlazeFace, six keypoints
 * (subject's right eye, left eye, nose tip, mouth centre, right ear tragion, left ear tragion).
 */
public final class Detection {
  public final float[] box;
  public final float score;
  /** {@code [6][2]} pixel coordinates, or null. */
  public final float[][] keypoints;
  /** Detector name; selects the {@link BoxMapping}. */
  public final String source;

  public Detection(float[] box, float score, float[][] keypoints, String source) {
    if (box.length != 4) {
      throw new IllegalArgumentException("box must be x0, y0, x1, y1");
    }
    this.box = box.clone();
    this.score = score;
    this.keypoints = keypoints;
    this.source = source;
  }

  public float width() {
    return box[2] - box[0];
  }

  public float height() {
    return box[3] - box[1];
  }
}
