/** `cnn-inspect help`. */

export const USAGE = `cnn-inspect <command> [options]
  info        --model M [--backend]
  predict     --model M --image I [--top K]
  activations --model M --image I --layer L --out A.npy
  evaluate    --model M --data DIR [--limit N]
  deconv      --model M --image I --layer L --unit U [--method deconv|gradient|guided] [--position y,x] --out P.npy
  occlusion   --model M --image I --patch P --stride S [--fill V] [--class K] [--layer L] --out-dir D
  invariance  --model M --data DIR [--images i,j,…] [--low L] [--high L] [--translations …] [--scales …] [--rotations …] --out R.csv
  evolution   --model M --data DIR [--layer L] [--units 0,1,…] --out-dir D
  correspondence --model M --data DIR --boxes B.csv [--layers L1,L2] [--random N] --out R.csv
              B.csv: image,part,top,left,bottom,right (image = path in DIR; a box per part per image)
  analyze sparsity    --model M --data DIR [--layers L1,L2] --out P.csv     (layer,mean_nonzero_pct,std_nonzero_pct)
  analyze selectivity --model M --data DIR --layer L --out S.csv           (unit,aue)
  analyze gmc         --model M --data DIR --layer L --out G.csv [--curves C.csv]   (class,unit,ap; C: precision–recall
                      curves of each class's top 5 units and 5 random units: class,curve,units,ap,recall,precision)
  analyze probe       --model M --data DIR --layers L1,L2 [--ablations original,binarised,shuffled,maxpool] [--seeds 3] --out P.csv
  analyze probe-training --model M --data DIR [--layers L1,L2] [--seeds 1] --out T.csv  (checkpoint,epoch,layer,accuracy,std)
  analyze compare     --model M --other M2 --data DIR [--layers L1,L2] [--no-selectivity] [--no-probe] --out C.csv
                      (layer,weight_change,aue_model,aue_other,probe_model,probe_other)
  analyze images-per-class --model M --data DIR [--counts 1,5,10] [--seeds 3] [--scratch [--scratch-seeds 1]] --out N.csv  (start,per_class,accuracy,std,runs)
  analyze distributed --model M --data DIR --layer L --out D.csv  (class,ap,k50,k90,then AP fraction per k)
  finetune    --model M --data DIR --strategy features|fc|all|scratch [--epochs 10] [--lr X] [--batch 32] [--seed 1] [--no-flip] [--no-early-stop] [--holdout 0.2] [--test 0.1] [--lr-mult conv1=0,conv5=0.5,new_classifier=1] [--no-crop] [--no-augment] [--optimizer sgd|adam] [--classifier softmax|svm] --out DIR
              Ctrl-C pauses (the run is saved in DIR after the current batch); a killed run keeps its last epoch.
  finetune    --resume DIR|RUN                             carry on a paused or interrupted run (a folder, or a run of the app)
  runs                                                     the app's unfinished fine-tuning runs (paused or interrupted)
  ablate      --model M --data DIR --variants "conv3+conv4; fc6+fc7; conv5=32" [--epochs 10] [--batch 32] [--seed 1] [--start scratch|pretrained] --out A.csv
              each variant: layers to remove, or layer=N to give it N filters/units (ZF Table 3)
  collect     --model M --data DIR --layers L1,L2 [--maps] [--float16] --out-dir D [--shard i/n]
              per layer L.max.npy (float32 [N, units], spatial max), L.nonzero.npy (int32 [N]), with --maps
              L.maps.npy ([N, …shape]); labels.npy (int32 [N]); manifest.json; reused by the analyze commands
              --shard i/n: images [i·N/n, (i+1)·N/n) only, one process of a cluster job (docs/CLUSTER.md)
  collect-merge --model M --data DIR --parts D0,D1,… --out-dir D   the shards joined: exactly what one collect writes,
              kept where the analyze commands on M and DIR find it
  topk        --model M --data DIR --layer L [--k 9] --out-dir D [--shard i/n] [--no-patches]
  atlas       --model M --data DIR [--layer L1,L2,…] [--k 9] [--units N] --out-dir D
              sheets/<layer>/unit<N>.png and layers/<layer>.json; --units N: each layer's first N units only
  topk-merge  --parts D1,D2,… --out-dir D
  export      --model M --format onnx|tfjs --out PATH      (PATH: a .onnx file, or a folder for TF.js)
  check-data  --data DIR --out L.csv                       look-alike images within / across classes (group,class,file)
  report      --model M --data DIR [--layers L1,L2] [--gmc-layer L] [--probe-layers L1,L2] --out R.html [--pdf R.pdf]
              --pdf: printed by a Chromium-family browser if one is installed (CHROMIUM_PATH), else said so
  zoo list    [--mirror URL] [--catalog F]                  the model zoo's networks (AlexNet, ZFNet, VGG, GoogLeNet, ResNet…)
  zoo get NAME [--mirror URL] [--file F]                    download one (resumable; SHA-256 checked) or copy in one fetched by hand
M: an ONNX model (.onnx), a Keras model (.h5, .keras), a TF.js Layers model.json (or its folder); "default" for
   the bundled model; zoo:NAME for a downloaded zoo network (ImageNet labels and preprocessing already set).
I: PNG/JPEG/WebP/TIFF/GIF, or a .npy float32 [H,W,C] used as the input tensor exactly.
--progress (any command that runs a job): on stderr, what it is doing, how far it is and the time left from the
   measured pace — redrawn on a terminal, a line every 10 s in a log. Ctrl-C cancels a job (finetune: pauses it).`;
