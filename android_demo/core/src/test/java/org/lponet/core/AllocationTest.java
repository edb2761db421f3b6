package org.lponet.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.management.ManagementFactory;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The per-frame hot paths, given their output buffers, allocate next to nothing after the
 * first call on camera-sized frames (a 1280 x 720 frame used to cost ~2.9 MiB of garbage:
 * tensor, ROI copy, area tables), and give the same values as the allocating forms. A photo
 * that the detector decimates (several times its input) still allocates the decimated copy.
 */
public class AllocationTest {
  /** Small change: loop temporaries, the affine matrices, a resize row. */
  public static final long BUDGET = 32 << 10;

  public static long allocated() {
    java.lang.management.ThreadMXBean mx = ManagementFactory.getThreadMXBean();
    assumeTrue(mx instanceof com.sun.management.ThreadMXBean, "no per-thread allocation counter");
    com.sun.management.ThreadMXBean sun = (com.sun.management.ThreadMXBean) mx;
    assumeTrue(sun.isThreadAllocatedMemorySupported() && sun.isThreadAllocatedMemoryEnabled(),
        "per-thread allocation counting is off");
    return sun.getThreadAllocatedBytes(Thread.currentThread().getId());
  }

  static RgbImage frame() {
    byte[] b = new byte[1280 * 720 * 3];
    new Random(11).nextBytes(b);
    return new RgbImage(1280, 720, b);
  }

  @Test
  void detectorInputAndFaceCropReuseTheirBuffers() {
    RgbImage frame = frame();
    BlazeFace bf = new BlazeFace(BlazeFace.Spec.BACK);
    BlazeFace.Letterbox lb = bf.letterbox(frame);
    CropTransform t = CropTransform.fromBox(new float[] {500, 200, 800, 560}, 128);
    float[] in = new float[256 * 256 * 3], crop = new float[128 * 128 * 3];
    bf.inputTensor(frame, lb, in); // first calls: per-thread scratch, cached area tables
    FaceCrop.crop(frame, t, crop);
    long a0 = allocated();
    bf.inputTensor(frame, lb, in);
    long a1 = allocated();
    FaceCrop.crop(frame, t, crop);
    long a2 = allocated();
    assertTrue(a1 - a0 < BUDGET, "BlazeFace.inputTensor allocated " + (a1 - a0) + " bytes");
    assertTrue(a2 - a1 < BUDGET, "FaceCrop.crop allocated " + (a2 - a1) + " bytes");
    assertArrayEquals(bf.inputTensor(frame, lb), in, 0f);
    assertArrayEquals(FaceCrop.crop(frame, t), crop, 0f);
  }

  @Test
  void argbConversionIntoAReusedBuffer() {
    int[] argb = new Random(5).ints(640 * 480).toArray();
    byte[] rgb = new byte[640 * 480 * 3];
    RgbImage.fromArgb(argb, 640, 480, rgb);
    long a0 = allocated();
    RgbImage img = RgbImage.fromArgb(argb, 640, 480, rgb);
    long a1 = allocated();
    assertTrue(a1 - a0 < BUDGET, "fromArgb into a buffer allocated " + (a1 - a0) + " bytes");
    assertArrayEquals(RgbImage.fromArgb(argb, 640, 480).rgb, img.rgb);
  }
}
