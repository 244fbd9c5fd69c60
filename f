ERR GET option of SORT denied in cluster mode: keys formed by pattern 'h_*-' may be in another partition than 'l'; give the pattern a hash tag before its '*', like '{l}h_*-'

