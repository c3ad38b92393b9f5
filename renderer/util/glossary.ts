/** The technical words the views use, each explained in a sentence or two for a non-programmer (GlossaryTerm shows them). */
export const GLOSSARY = {
  unit: {
    word: 'unit',
    text: 'One feature detector of a layer (a channel). It responds strongly where the image has the pattern it has learned, and stays silent elsewhere.',
  },
  deconvnet: {
    word: 'projection',
    text: 'A unit’s activity run backwards through the network to the pixels (Zeiler & Fergus’s deconvnet, or guided backprop or the plain gradient): it shows which pixels made the unit fire.',
  },
  sparsity: {
    word: 'active',
    text: 'A unit is active for an image when its output is above zero. A sparse layer has few active units per image: each image is described by a few features.',
  },
  aue: {
    word: 'AuE',
    text: 'Area under the entropy curve, in bits: take the images that excite a unit, raise the bar step by step, and measure how mixed their classes are. Low = the unit fires for one class; high (up to log₂ of the number of classes) = for all classes alike.',
  },
  averagePrecision: {
    word: 'average precision',
    text: 'Rank all images by how strongly one unit responds. Average precision (AP) is how well the images of the chosen class come first: 1 = all of them first; the class’s share of the images = what chance gives.',
  },
  probe: {
    word: 'linear classifier',
    text: 'A linear probe: the simplest classifier there is, trained on one layer’s outputs only and tested on images it did not see. How well it does says how much of the class can be read from that layer.',
  },
  signChange: {
    word: 'mean sign change',
    text: 'Hiding a part turns some feature values on or off. For each pair of images, this is the share of features where hiding it did something different; the mean over the pairs. Lower = hiding the part changes every image the same way, so the network codes the part consistently.',
  },
  softmax: {
    word: 'softmax classifier',
    text: 'One last layer that turns the features into a probability for each class, trained to make the right class’s probability high.',
  },
  svm: {
    word: 'linear SVM',
    text: 'A support vector machine: for each class, the flat divide between its images and all others that keeps the widest gap. The class whose side is furthest wins.',
  },
  epoch: {
    word: 'epoch',
    text: 'One pass over all the images the network learns from. Each pass it sees every image once (in a new order, and with small random shifts if those are on).',
  },
  heldBack: {
    word: 'held back',
    text: 'Images kept out of learning, to check the result honestly: a network can memorise the images it learns from, so only images it never learned from show how well it really does.',
  },
  learningRate: {
    word: 'learning rate',
    text: 'How big a step the network takes each time it corrects itself. Too big and it overshoots; too small and it hardly moves.',
  },
} as const;

export type GlossaryKey = keyof typeof GLOSSARY;
