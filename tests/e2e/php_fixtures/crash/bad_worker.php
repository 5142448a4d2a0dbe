<?php
// A worker script that can never boot.
throw new RuntimeException("this worker cannot boot");
